// Auditor console: watch and hear the facility camera, talk to the facility, direct the
// walk checkpoint by checkpoint, capture evidence, record results, complete the audit.

import { CameraViews, cameraOfTrack } from './cameras.js';
import { CaptureControl } from './capture.js';
import { CheckpointCard } from './checkpoint-card.js';
import { CheckpointList, Walkthrough } from './checkpoints.js';
import { Completion } from './completion.js';
import { askConsent } from './consent.js';
import { $, isTyping, localizeTimes, noticeLine, readConfig, setBadge, setPressed } from './dom.js';
import { EvidenceStrip } from './evidence.js';
import { FacilityLinkBadge, duration } from './facility-link.js';
import { setupInvites } from './invites.js';
import { PhoneLanguage } from './phone-language.js';
import { Roster, renderParticipants } from './participants.js';
import { PeerLink } from './peer.js';
import { PhoneQueue } from './phone-queue.js';
import { PhotoModeControl } from './photo-mode.js';
import { PhotoRequest } from './photo-request.js';
import { VideoPointer } from './pointer.js';
import { RemoteVideo } from './remote-video.js';
import { Signaling } from './signaling.js';
import { TechCheckPanel } from './techcheck-panel.js';
import { UplinkPanel } from './uplink-panel.js';

const config = readConfig();
// Reviewers, and auditors of the firm who are not running this audit, watch only.
const mayRun = config.may_run !== false;

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
  pointerHint: $('#pointer-hint'),
  pip: $('#camera-pip'),
  pipVideo: $('#pip-video'),
  pipLabel: $('#pip-label'),
  cameraLabel: $('#camera-label'),
};
const notice = noticeLine(els.notice);

// Why the server closed for good: a short badge, a sentence over the video, a way on.
const TERMINAL = {
  4401: {
    badge: 'Signed out',
    text: 'Your session has ended. Sign in again to rejoin the audit.',
    action: { label: 'Sign in', href: `/login?next=${encodeURIComponent(location.pathname)}` },
  },
  4404: { badge: 'Audit not found', text: 'This audit does not exist.', action: { label: 'Back to audits', href: '/audits' } },
  4403: {
    badge: 'Access ended',
    text: 'Your access to this live session ended.',
    action: { label: 'Back to audits', href: '/audits' },
  },
  4409: {
    badge: 'Audit completed',
    text: 'This audit is completed. The live session is closed.',
    action: { label: 'Open the report', href: `${location.pathname.replace(/\/$/, '')}/report` },
  },
};
// Errors about directing the walk, shown on the checkpoint card.
const WALK_ERRORS = new Set(['not_found', 'audit_completed', 'no_template']);

// Shortcuts that direct the audit: capture, photo, next and previous checkpoint, results.
const RESULT_KEYS = { 1: 'meets', 2: 'does_not_meet', 3: 'not_applicable', 4: 'follow_up' };
const RUN_KEYS = new Set(['c', 'C', 'r', 'R', 'n', 'N', 'p', 'P', 'v', 'V', ...Object.keys(RESULT_KEYS)]);
// Cameras an auditor's connection receives: the server sends camera n on the n-th video track.
const CAMERA_TRACKS = 2;
const MIC_WAIT_MS = 1_500;
const GOTO_CONFIRM_MS = 4_000; // a move sent over the socket comes back well within this
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
  consenting: false, // the recording notice is waiting for the auditor's acceptance
};

const vaudit = { pc: null, state: 'connecting' };
window.vaudit = vaudit;

let mic = null;
let micMuted = false;
let pcHasMic = false;
let welcomes = 0;
let accessEnded = null; // the server's `access-ended` message, if it sent one

const signaling = new Signaling(config.ws_path);
const send = (message) => signaling.send(message);
let phoneLanguage = null; // set once the checkpoint list exists
const roster = new Roster(() => {
  renderParticipants(els.participants, els.participantsEmpty, roster);
  if (phoneLanguage) phoneLanguage.render();
  render();
});
const link = new PeerLink({ send, setup: addTransceivers });
const remote = new RemoteVideo({
  frame: els.frame, video: els.video, soundButton: els.sound, onFrame: frameSeen, onResize: renderMediaInfo,
});
const cameras = new CameraViews({
  large: els.video,
  small: els.pipVideo,
  smallTile: els.pip,
  largeLabel: els.cameraLabel,
  smallLabel: els.pipLabel,
  send,
  onSwap: () => render(),
  photoMode: (number) => photoMode.isOn(number),
});
window.vaudit.cameras = cameras;
const walk = new Walkthrough(config.audit_id);
const currentKey = () => walk.currentKey;
// `completion` is declared below; the check runs only once a capture is opened.
const evidence = new EvidenceStrip(config.audit_id, (key) => walk.titleOf(key), () => mayRun && !completion.completed);
const capture = new CaptureControl(send, currentKey, () => cameras.onScreen);
const photo = new PhotoRequest({ send, checkpoint: currentKey, camera: () => cameras.onScreen });
const phoneQueue = new PhoneQueue($('#photo-queue'));
const uplink = new UplinkPanel();
const photoMode = new PhotoModeControl({
  send,
  blocker: () => (mayRun ? photoBlocker() : 'Only the auditors running this audit can switch photo mode.'),
  camera: () => cameras.onScreen,
});
const card = new CheckpointCard(walk, go);
const completion = new Completion(config.audit_id, walk);
const techCheck = new TechCheckPanel(config.audit_id);
new CheckpointList(walk, go);
phoneLanguage = new PhoneLanguage(walk, () => roster.others('staff'));
new VideoPointer(els.frame, els.video, { send, enabled: canPoint, camera: () => cameras.onScreen });
const micReady = acquireMic();
const facilityLink = new FacilityLinkBadge($('[data-testid="facility-link"]'), {
  onGap: (ms) => {
    const text = `Connection lost for ${duration(ms)}: the facility's video is back. The recording shows the gap.`;
    notice(text, { forMs: 20_000 });
  },
});
let consentShown = null; // the notice the auditor accepted on this page
let consentPending = null; // {session, ice} while the server logs our consent

/** Whether a click on the picture points for the phone: only for who runs the live audit. */
function canPoint() {
  return mayRun && vaudit.state === 'connected' && !completion.completed;
}

/** Why the session ended for good: the close code's sentence, or the server's own reason. */
function terminalView(code, ended) {
  const base = TERMINAL[code] || TERMINAL[4403];
  if (code !== 4403 || !ended) return base;
  const text = ended.message ? `${sentence(ended.message)} You can no longer watch this session.` : base.text;
  const action = ended.reason === 'signed_out' ? TERMINAL[4401].action : base.action;
  return { ...base, badge: ended.reason === 'signed_out' ? 'Signed out' : base.badge, text, action };
}

function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return '';
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** The facility paused its camera (a break): the person who did, or null. */
function pausedBy() {
  return roster.others('staff').find((person) => person.paused) || null;
}

function connectionView() {
  if (view.terminal) return ['failed', view.terminal.badge];
  if (view.socketOpen && pausedBy()) return ['connecting', 'Paused by the facility'];
  if (view.socketOpen && photoMode.on && view.pcState === 'connected') return ['connecting', 'Photo mode'];
  if (!view.socketOpen) return view.joined ? ['reconnecting', 'Reconnecting…'] : ['connecting', 'Connecting…'];
  if (view.consenting) return ['connecting', 'Waiting for your consent'];
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
  const paused = pausedBy();
  if (paused && !view.terminal) {
    overlay = `Paused by the facility: ${paused.name || 'the phone'} paused the camera. The picture comes back when they resume.`;
  }
  if (photoMode.on && !paused && !view.terminal) {
    overlay = 'Photo mode: the phone\'s video is paused to spare its uplink; you still hear the facility. Press R for a full-resolution photo, V to resume the video.';
  }
  if (view.consenting && !view.terminal) overlay = 'Accept the recording notice to start the video.';
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
  photo.setBlocker(photoBlocker());
  photoMode.render();
  els.pointerHint.hidden = !canPoint();
  els.frame.classList.toggle('can-point', canPoint());
}

/** Why nothing can be captured right now, or '' when a capture can be taken. */
function captureBlocker() {
  if (completion.completed) return 'The audit is completed: nothing more can be captured.';
  if (view.terminal) return 'The live session is closed: nothing can be captured.';
  if (!view.socketOpen) return 'Not connected to the server: nothing can be captured until the connection is back.';
  if (pausedBy()) return 'The facility paused the camera: there is nothing to capture until they resume.';
  if (photoMode.on) return 'Photo mode: the video is paused. Ask for a photo (R), or resume the video (V) to capture.';
  if (view.media !== 'live') return 'The facility camera is not live: there is nothing to capture yet.';
  return '';
}

/** Why no photo can be asked for right now, or ''. */
function photoBlocker() {
  if (completion.completed || view.terminal) return 'The live session is closed.';
  if (!view.socketOpen) return 'Not connected to the server.';
  if (roster.others('staff').length === 0) return 'Nobody from the facility is connected to take a photo.';
  return '';
}

let gotoCheck = null; // the pending check that a move sent over the socket came back

/**
 * Make a checkpoint current for everyone: over the socket, or over HTTP while it is down or
 * when the socket's move does not come back.
 */
function go(key) {
  if (completion.completed || !mayRun) return;
  card.flush(); // the note typed for the checkpoint we leave goes with us
  card.showError('');
  const moveOverHttp = () => walk.gotoOverHttp(key)
    .catch((error) => card.showError(`Could not move to that checkpoint: ${error.message}`));
  clearTimeout(gotoCheck);
  if (!send({ type: 'goto', key })) {
    moveOverHttp();
    return;
  }
  // A message on a socket that is dying is lost: if no move at all has come back by then
  // (ours, or another auditor's), make this one over HTTP. Moving to a checkpoint is idempotent.
  const moves = walk.moves;
  gotoCheck = setTimeout(() => {
    if (walk.moves === moves && !completion.completed) moveOverHttp();
  }, GOTO_CONFIRM_MS);
}

/** The audit is completed (here or by another auditor): results are final, the session ends. */
function finish() {
  card.setReadOnly(true);
  evidence.setReadOnly();
  capture.abandon();
  view.terminal = TERMINAL[4409];
  view.socketOpen = false;
  facilityLink.stop();
  signaling.stop();
  link.close();
  vaudit.pc = null;
  if (mic) mic.stop();
  els.mute.disabled = true;
  render();
}

function renderMediaInfo() {
  const { videoWidth, videoHeight } = els.video;
  const parts = [];
  if (view.media === 'live' && view.codec) parts.push(view.codec);
  if (vaudit.state === 'connected' && videoWidth) parts.push(`${videoWidth}×${videoHeight}`);
  els.mediaInfo.textContent = parts.join(' · ');
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

/** A `welcome`'s ICE servers (with this participant's TURN credential) and transport policy. */
function iceOf(welcome) {
  return { servers: welcome.ice_servers, policy: welcome.ice_transport_policy };
}

/** Connect the media once consent is settled; a newer welcome makes this one stale. */
async function startMedia(session, ice) {
  // Give the microphone prompt a moment, but never let an unanswered prompt keep the video away.
  await Promise.race([micReady, new Promise((resolve) => setTimeout(resolve, MIC_WAIT_MS))]);
  if (session !== welcomes || !signaling.isOpen) return;
  link.welcome(ice.servers, ice.policy);
  sendMediaState();
}

function addTransceivers(pc) {
  pcHasMic = Boolean(mic);
  for (let n = 0; n < CAMERA_TRACKS; n += 1) pc.addTransceiver('video', { direction: 'recvonly' });
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

function frameSeen() {
  if (view.frames) return;
  view.frames = true;
  render();
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isTyping(event)) return;
  if (document.querySelector('dialog[open]')) return;
  const key = event.key;
  if (!mayRun && RUN_KEYS.has(key)) return;
  if (key === 'c' || key === 'C') {
    if (!event.repeat) capture.request();
  } else if (key === 'n' || key === 'N') card.step(1);
  else if (key === 'p' || key === 'P') card.step(-1);
  else if (key === 'r' || key === 'R') {
    if (!event.repeat) photo.request();
  } else if (Object.hasOwn(RESULT_KEYS, key)) {
    if (!event.repeat) card.save(RESULT_KEYS[key]);
  } else if (key === 'v' || key === 'V') {
    if (!event.repeat) photoMode.toggle();
  } else if (key === 'm' || key === 'M') setMuted(!micMuted);
  else if (key === 'f' || key === 'F') remote.toggleFullscreen();
  else if (key === 's' || key === 'S') {
    if (!event.repeat) cameras.swap();
  }
  else if (key === '?') els.help.showModal();
  else return;
  event.preventDefault();
}

// Peer connection events.
link.addEventListener('pc', ({ detail: pc }) => {
  vaudit.pc = pc;
  view.retrying = false;
  view.frames = false;
  cameras.reset();
  render();
});
link.addEventListener('track', ({ detail: event }) => {
  cameras.addTrack(event.track, link.pc ? cameraOfTrack(link.pc, event) : 1);
  remote.play();
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
  link.signalingLost(); // not joined on this socket yet: no offer before its `welcome`
  view.socketOpen = true;
  signaling.send({ type: 'join', client: 'auditor-console' });
  render();
});
signaling.addEventListener('close', ({ detail }) => {
  link.signalingLost();
  view.socketOpen = false;
  view.media = null;
  capture.abandon();
  if (detail.terminal) {
    view.terminal = terminalView(detail.code, accessEnded);
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
    photoMode.reset(); // a `photo-mode` follows when it is on
    // Back after an outage: fetch what happened meanwhile.
    if (session > 1) {
      evidence.load();
      walk.refresh();
    }
    const consent = message.consent || {};
    if (consent.required) {
      // Accepted once on this page already (we reconnected): say so again; else ask.
      if (consentShown !== consent.notice_sha256) {
        view.consenting = true;
        render();
        await askConsent(consent.notice);
        view.consenting = false;
        render();
      }
      consentShown = consent.notice_sha256;
      if (session !== welcomes) return;
      consentPending = { session, ice: iceOf(message) };
      send({ type: 'consent', accepted: true });
      return;
    }
    await startMedia(session, iceOf(message));
  })
  .on('consent-recorded', (message) => {
    const pending = consentPending;
    consentPending = null;
    if (pending && message.accepted) startMedia(pending.session, pending.ice);
  })
  .on('checkpoint', (message) => walk.moved(message.checkpoint))
  .on('checkpoint-result', (message) => walk.recorded(message))
  .on('audit-completed', (message) => completion.show(message.outcome || {}))
  // Sent just before the server closes the socket with 4403: say why, do not reconnect.
  .on('access-ended', (message) => { accessEnded = message; })
  .on('answer', (message) => link.answer(message.sdp))
  .on('cameras', (message) => {
    cameras.update(message.cameras);
    if (view.socketOpen) cameras.announce();
  })
  .on('facility-link', (message) => facilityLink.update(message))
  .on('media', (message) => {
    view.media = message.state;
    view.codec = message.codec || null;
    if (message.state !== 'live') view.frames = false;
    render();
  })
  .on('evidence', (message) => {
    capture.succeeded(message.request_id);
    if (evidence.add(message.item, { fresh: true })) remote.shutter();
    walk.evidenceAdded(message.item);
  })
  .on('captured', (message) => {
    evidence.add(message.item, { fresh: true });
    walk.evidenceAdded(message.item);
    photo.arrived(message.item);
    phoneQueue.arrived(message.item);
  })
  .on('participant-joined', (message) => {
    roster.upsert(message.participant);
    if (message.participant && message.participant.role === 'staff') techCheck.load();
  })
  .on('participant-updated', (message) => roster.upsert(message.participant))
  .on('participant-left', (message) => {
    roster.remove(message.participant_id);
    uplink.forget(message.participant_id);
    if (roster.others('staff').length === 0) {
      photo.phoneLeft();
      uplink.clear();
    }
  })
  .on('photo-declined', (message) => photo.declined(message))
  .on('photo-queue', (message) => {
    phoneQueue.update(message, new Set(roster.others('staff').map((person) => person.id)));
  })
  .on('photo-mode', (message) => {
    photoMode.update(message);
    cameras.attach();
    render();
  })
  .on('uplink', (message) => uplink.update(message))
  .on('error', (message) => {
    if (message.code === 'bad_sdp') link.offerRefused();
    else if (message.code === 'capture_failed') capture.failed(message);
    else if (WALK_ERRORS.has(message.code)) card.showError(message.message);
    else console.warn(`server refused a message: ${message.code}: ${message.message}`);
  });

els.mute.addEventListener('click', () => setMuted(!micMuted));
els.fullscreen.addEventListener('click', () => remote.toggleFullscreen());
els.showHelp.addEventListener('click', () => els.help.showModal());
document.addEventListener('keydown', onKey);
window.addEventListener('beforeunload', (event) => {
  if (!card.unsaved) return;
  card.flush();
  event.preventDefault(); // the browser asks whether to leave with a note not saved yet
});
window.addEventListener('pagehide', () => {
  signaling.stop();
  link.close();
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted && !completion.completed) signaling.connect();
});

walk.addEventListener('change', () => evidence.relabel());
completion.addEventListener('completed', ({ detail }) => {
  finish();
  // `audit-completed` carries only the verdict and score: fetch the counts.
  if (!detail.counts) completion.load();
});

localizeTimes();
if (mayRun) setupInvites(config.audit_id);
else card.setReadOnly(true);
evidence.load();
walk.load();
techCheck.load();
render();
// The live session starts at once, beside the page's other requests (the page says whether
// the audit was completed; one completed since is refused with 4409, which says so too).
completion.load();
if (!config.completed) signaling.connect();
