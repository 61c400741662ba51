// Auditor console: watch and hear the facility camera, talk to the facility, capture
// evidence, invite staff.

import { CaptureControl } from './capture.js';
import { $, isTyping, localizeTimes, readConfig, setBadge, setPressed } from './dom.js';
import { EvidenceStrip } from './evidence.js';
import { setupInvites } from './invites.js';
import { Roster, renderParticipants } from './participants.js';
import { PeerLink } from './peer.js';
import { Signaling } from './signaling.js';

const config = readConfig();

const els = {
  badge: $('[data-testid="connection-state"]'),
  frame: $('#video-frame'),
  video: $('#remote-video'),
  overlay: $('#video-overlay'),
  overlayText: $('#overlay-text'),
  overlayAction: $('#overlay-action'),
  sound: $('#enable-sound'),
  mute: $('#mute'),
  fullscreen: $('#fullscreen'),
  showHelp: $('#show-help'),
  help: $('#help-dialog'),
  notice: $('#notice'),
  mediaInfo: $('#media-info'),
  participants: $('#participants'),
  participantsEmpty: $('#participants-empty'),
};

// Why the server closed for good: a short badge, a sentence over the video, a way on.
const TERMINAL = {
  4401: {
    badge: 'Signed out',
    text: 'Your session has ended. Sign in again to rejoin the audit.',
    action: { label: 'Sign in', href: `/login?next=${encodeURIComponent(location.pathname)}` },
  },
  4404: { badge: 'Audit not found', text: 'This audit does not exist.', action: { label: 'Back to audits', href: '/audits' } },
  4409: {
    badge: 'Audit completed',
    text: 'This audit is completed. The live session is closed.',
    action: { label: 'Back to audits', href: '/audits' },
  },
};

const MIC_WAIT_MS = 1_500;
const WAITING_FOR_CAMERA = 'Waiting for the facility camera…';

const view = {
  socketOpen: false,
  joined: false, // a welcome has arrived at least once
  pcState: 'new',
  pcEverConnected: false,
  retrying: false, // the connection failed and a new one is scheduled
  media: null, // 'waiting' | 'live' from the server
  codec: null,
  frames: false, // the video element has shown a frame since media went live
  terminal: null,
};

const vaudit = { pc: null, state: 'connecting' };
window.vaudit = vaudit;

let mic = null;
let micMuted = false;
let pcHasMic = false;
let welcomes = 0;
let remoteStream = new MediaStream();

const signaling = new Signaling(config.ws_path);
const roster = new Roster(() => {
  renderParticipants(els.participants, els.participantsEmpty, roster);
  render();
});
const link = new PeerLink({ send: (message) => signaling.send(message), setup: addTransceivers });
const evidence = new EvidenceStrip(config.audit_id);
const capture = new CaptureControl((message) => signaling.send(message));
const micReady = acquireMic();

function connectionView() {
  if (view.terminal) return ['failed', view.terminal.badge];
  if (!view.socketOpen) return view.joined ? ['reconnecting', 'Reconnecting…'] : ['connecting', 'Connecting…'];
  if (view.retrying || view.pcState === 'failed') return ['failed', 'Connection failed — retrying'];
  if (view.pcState === 'disconnected') return ['reconnecting', 'Reconnecting…'];
  if (view.pcState !== 'connected') {
    return view.pcEverConnected ? ['reconnecting', 'Reconnecting…'] : ['connecting', 'Connecting…'];
  }
  if (view.media !== 'live') return ['connecting', WAITING_FOR_CAMERA];
  if (!view.frames) return ['connecting', 'Starting video…'];
  return ['connected', 'Live'];
}

function render() {
  const [state, text] = connectionView();
  vaudit.state = state;
  setBadge(els.badge, state, text);
  els.overlay.hidden = state === 'connected';
  let overlay = text;
  if (text === WAITING_FOR_CAMERA && roster.others('staff').length === 0) {
    overlay = `${text} Nobody from the facility has joined yet: create an invite link and send it to them.`;
  }
  if (view.terminal) overlay = view.terminal.text;
  els.overlayText.textContent = overlay;
  const action = view.terminal && view.terminal.action;
  els.overlayAction.hidden = !action;
  if (action) {
    els.overlayAction.textContent = action.label;
    els.overlayAction.href = action.href;
  }
  renderMediaInfo();
  const blocker = captureBlocker();
  capture.setAvailable(!blocker, blocker);
}

/** Why nothing can be captured right now, or '' when a capture can be taken. */
function captureBlocker() {
  if (view.terminal) return 'The live session is closed: nothing can be captured.';
  if (!view.socketOpen) return 'Not connected to the server: nothing can be captured until the connection is back.';
  if (view.media !== 'live') return 'The facility camera is not live: there is nothing to capture yet.';
  return '';
}

/** A capture is stored: a short flash over the video, like a camera shutter. */
function shutter() {
  els.frame.classList.remove('is-captured');
  void els.frame.offsetWidth; // restart the animation when captures follow each other
  els.frame.classList.add('is-captured');
}

function renderMediaInfo() {
  const { videoWidth, videoHeight } = els.video;
  const parts = [];
  if (view.media === 'live' && view.codec) parts.push(view.codec);
  if (vaudit.state === 'connected' && videoWidth) parts.push(`${videoWidth}×${videoHeight}`);
  els.mediaInfo.textContent = parts.join(' · ');
}

function notice(text) {
  els.notice.textContent = text;
  els.notice.hidden = !text;
}

async function acquireMic() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    notice('This browser offers no microphone on this page (it needs HTTPS). You can watch and listen, but the facility cannot hear you.');
  } else {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      mic = stream.getAudioTracks()[0] || null;
    } catch (error) {
      notice(error.name === 'NotAllowedError'
        ? 'Microphone access is blocked, so the facility cannot hear you. Allow the microphone for this site (the icon in the address bar), then reload the page.'
        : 'No usable microphone was found, so the facility cannot hear you. You can still watch and listen.');
    }
  }
  els.mute.disabled = !mic;
  if (mic) mic.enabled = !micMuted;
  else els.mute.title = 'No microphone';
  // Answered after we already connected without it: connect again, now with the microphone.
  if (mic && link.pc && !pcHasMic) link.renew();
}

function addTransceivers(pc) {
  pcHasMic = Boolean(mic);
  pc.addTransceiver('video', { direction: 'recvonly' });
  if (mic) pc.addTransceiver(mic, { direction: 'sendrecv' });
  else pc.addTransceiver('audio', { direction: 'recvonly' });
}

function sendMediaState() {
  signaling.send({ type: 'media-state', audio: Boolean(mic) && !micMuted, video: false });
}

function setMuted(muted) {
  if (!mic) return;
  micMuted = muted;
  mic.enabled = !muted;
  setPressed(els.mute, muted);
  roster.updateSelf({ audio: !muted });
  sendMediaState();
}

// Playback. Browsers may refuse to autoplay sound before the user has clicked anything;
// then play muted (video still flows) and offer a button for the sound.
function play() {
  const video = els.video;
  video.play().catch((error) => {
    if (error.name !== 'NotAllowedError') return;
    video.muted = true;
    els.sound.hidden = false;
    video.play().catch(() => {});
  });
}

function enableSound() {
  els.video.muted = false;
  els.video.play().then(() => { els.sound.hidden = true; }, () => {});
}

function frameSeen() {
  if (!view.frames && els.video.videoWidth > 0) {
    view.frames = true;
    render();
  }
}

function watchFrames(video) {
  if ('requestVideoFrameCallback' in video) {
    const tick = () => {
      frameSeen();
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  } else {
    video.addEventListener('playing', frameSeen);
    video.addEventListener('timeupdate', frameSeen);
  }
  video.addEventListener('resize', renderMediaInfo);
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else if (els.frame.requestFullscreen) els.frame.requestFullscreen().catch(() => {});
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isTyping(event)) return;
  if (els.help.open || evidence.viewer.isOpen) return;
  const key = event.key;
  if (key === 'c' || key === 'C') {
    if (!event.repeat) capture.request();
  } else if (key === 'm' || key === 'M') setMuted(!micMuted);
  else if (key === 'f' || key === 'F') toggleFullscreen();
  else if (key === '?') els.help.showModal();
  else return;
  event.preventDefault();
}

// Peer connection events.
link.addEventListener('pc', ({ detail: pc }) => {
  vaudit.pc = pc;
  view.retrying = false;
  view.frames = false;
  remoteStream = new MediaStream();
  els.video.srcObject = remoteStream;
  render();
});
link.addEventListener('track', ({ detail: event }) => {
  remoteStream.addTrack(event.track);
  play();
});
link.addEventListener('state', ({ detail: state }) => {
  view.pcState = state;
  if (state === 'connected') view.pcEverConnected = true;
  render();
});
link.addEventListener('recovering', () => {
  view.retrying = true;
  render();
});
link.addEventListener('error', ({ detail: error }) => console.warn('peer connection:', error.message));

// Signaling events.
signaling.addEventListener('open', () => {
  view.socketOpen = true;
  signaling.send({ type: 'join', client: 'auditor-console' });
  render();
});
signaling.addEventListener('close', ({ detail }) => {
  view.socketOpen = false;
  view.media = null;
  capture.abandon();
  if (detail.terminal) {
    view.terminal = TERMINAL[detail.code];
    link.close();
    vaudit.pc = null;
    if (mic) mic.stop();
    els.mute.disabled = true;
  }
  render();
});
signaling
  .on('welcome', async (message) => {
    view.joined = true;
    const session = ++welcomes;
    roster.reset(message.participant, message.participants);
    // Back after an outage: fetch the captures that were taken meanwhile.
    if (session > 1) evidence.load();
    // Give the microphone prompt a moment, but never let an unanswered prompt keep the video away.
    await Promise.race([micReady, new Promise((resolve) => setTimeout(resolve, MIC_WAIT_MS))]);
    if (session !== welcomes || !signaling.isOpen) return;
    link.welcome(message.ice_servers);
    sendMediaState();
  })
  .on('answer', (message) => link.answer(message.sdp))
  .on('media', (message) => {
    view.media = message.state;
    view.codec = message.codec || null;
    if (message.state !== 'live') view.frames = false;
    render();
  })
  .on('evidence', (message) => {
    capture.succeeded(message.request_id);
    if (evidence.add(message.item, { fresh: true })) shutter();
  })
  .on('captured', (message) => evidence.add(message.item, { fresh: true }))
  .on('participant-joined', (message) => roster.upsert(message.participant))
  .on('participant-updated', (message) => roster.upsert(message.participant))
  .on('participant-left', (message) => roster.remove(message.participant_id))
  .on('error', (message) => {
    if (message.code === 'bad_sdp') link.offerRefused();
    else if (message.code === 'capture_failed') capture.failed(message);
    else console.warn(`server refused a message: ${message.code}: ${message.message}`);
  });

els.mute.addEventListener('click', () => setMuted(!micMuted));
els.sound.addEventListener('click', enableSound);
els.fullscreen.addEventListener('click', toggleFullscreen);
els.showHelp.addEventListener('click', () => els.help.showModal());
document.addEventListener('keydown', onKey);
window.addEventListener('pagehide', () => {
  signaling.stop();
  link.close();
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted) signaling.connect();
});

watchFrames(els.video);
localizeTimes();
setupInvites(config.audit_id);
evidence.load();
render();
signaling.connect();
