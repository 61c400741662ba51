// Facility phone page: show the recording notice; once accepted, send the camera and
// microphone to the auditor, play the auditor's voice, and follow the auditor's directions
// (the current step, "point here", "take a photo"). Recovers from network trouble by itself.

import { Camera } from './camera.js';
import { currentLocation, deviceId } from './consent.js';
import { $, readConfig, setBadge, setPressed } from './dom.js';
import { CapturedFlash } from './flash.js';
import { InstructionCard } from './instruction.js';
import { Roster } from './participants.js';
import { PeerLink } from './peer.js';
import { PhotoTaker } from './photo.js';
import { PointerMarker } from './pointer.js';
import { Screens } from './screens.js';
import { Signaling } from './signaling.js';
import { currentLanguage, joinLanguage, loadStrings, onLanguageChange, t } from './strings.js';

const config = readConfig();

const els = {
  badge: $('[data-testid="connection-state"]'),
  auditors: $('#auditors'),
  start: $('#start'),
  startLabel: $('#start-label'),
  notice: $('#consent-notice'),
  video: $('#local-video'),
  banner: $('#live-banner'),
  rec: $('#rec-badge'),
  mute: $('#mute'),
  pause: $('#pause'),
  pauseLabel: $('#pause-label'),
  flip: $('#switch-camera'),
  torch: $('#torch'),
  audio: $('#remote-audio'),
  messageAction: $('#message-action'),
};

// The end screen for each close after which the page must not reconnect. The server's codes
// pick it (the `error` before the close, the `access-ended` reason), never its English words.
const CLOSE_PROBLEMS = { 4401: 'expired', 4403: 'accessEnded', 4404: 'notFound', 4409: 'completed' };
const REFUSALS = { unauthorized: 'expired', audit_completed: 'completed', not_found: 'notFound' };
const ENDED_REASONS = { invite_revoked: 'revoked', signed_out: 'accessEnded', unassigned: 'accessEnded' };

const view = {
  started: false, // the camera runs
  accepted: false, // …and the person accepted the notice (and answered the location prompt)
  starting: false,
  welcome: null, // the latest `welcome`: the notice, whether consent is still needed, ICE servers
  consentSent: false,
  location: null, // asked once, on Start
  locationAsked: false,
  socketOpen: false,
  joined: false,
  pcState: 'new',
  pcEverConnected: false,
  retrying: false,
  muted: false,
  paused: false, // the person paused the camera (a break): the video track sends nothing
  terminal: false,
  notice: '',
};

const vaudit = { pc: null, state: 'connecting' };
window.vaudit = vaudit;

const camera = new Camera();
const signaling = new Signaling(config.ws_path);
const roster = new Roster(renderAuditors);
const screens = new Screens();
const flash = new CapturedFlash($('#captured-flash'), $('#captured-status'));
const instruction = new InstructionCard();
const marker = new PointerMarker($('#pointer-marker'), els.video);
const photo = new PhotoTaker({
  auditId: config.audit_id,
  token: config.token,
  track: () => camera.video,
  location: () => view.location,
  onDecline: (answer) => signaling.send({ type: 'photo-declined', ...answer }),
});
let pendingPhoto = null; // a photo request that came before Start
// A failed connection on a phone usually means the network changed under it: rejoin on a
// fresh socket (new join, new connection, new offer) instead of reusing the old one.
const link = new PeerLink({
  send: (message) => signaling.send(message),
  setup: addTransceivers,
  recover: () => signaling.restart(),
});
let videoSender = null;
let accessEnded = null; // the server's `access-ended` message, if it sent one
let refusal = null; // the code of the server's last `error`, which may precede its close
let wakeLock = null;

function connectionView() {
  if (view.terminal) return ['failed', t('stateFailed')];
  const reconnecting = ['reconnecting', t('stateReconnecting')];
  const connecting = ['connecting', t('stateConnecting')];
  if (!view.socketOpen) return view.joined ? reconnecting : connecting;
  if (view.retrying || view.pcState === 'failed' || view.pcState === 'disconnected') return reconnecting;
  if (view.pcState === 'connected') return ['connected', t('stateConnected')];
  return view.pcEverConnected ? reconnecting : connecting;
}

function render() {
  const [state, text] = connectionView();
  vaudit.state = state;
  setBadge(els.badge, state, text);
  let banner = view.notice;
  if (!banner && state === 'reconnecting') banner = t(navigator.onLine === false ? 'offlineBody' : 'reconnectingHint');
  if (!banner && state === 'connecting') banner = t('connectingHint');
  if (!banner && view.paused) banner = t('pausedBanner');
  if (!banner && view.muted) banner = t('micOff');
  els.banner.textContent = banner;
  els.banner.hidden = !banner;
  els.banner.dataset.tone = state === 'connected' ? 'info' : 'warn';
  // Media reaches the server, which records it: say so while it does.
  els.rec.hidden = state !== 'connected' || view.paused;
  renderStart();
}

/** The consent step: the server's notice, and Start once the server has sent it. */
function renderStart() {
  if (view.started || view.starting) return;
  const welcome = view.welcome;
  const consent = (welcome && welcome.consent) || {};
  const shown = (consent.notices && consent.notices[currentLanguage()]) || consent.notice;
  if (welcome && shown) els.notice.textContent = shown;
  els.start.disabled = !welcome || view.terminal;
  els.startLabel.textContent = !welcome ? t('connecting') : t(consent.required ? 'accept' : 'start');
}

function renderAuditors() {
  if (view.terminal) {
    els.auditors.textContent = '';
    return;
  }
  const names = roster.others('auditor').map((person) => person.name).filter(Boolean);
  els.auditors.textContent = names.length ? t('withAuditors', { names: names.join(', ') }) : t('waitingAuditor');
}

const NOTICE_MS = 6_000;
let noticeTimer = 0;

/** A line over the picture; it fades after a few seconds unless `sticky`. */
function notice(text, { sticky = false } = {}) {
  clearTimeout(noticeTimer);
  view.notice = text;
  if (text && !sticky) noticeTimer = setTimeout(() => notice(''), NOTICE_MS);
  render();
}

/** The auditor took a picture: flash the preview so the person filming holds still. */
function flashCaptured(message) {
  if (!view.started || view.terminal) return;
  // A photo is one the person just took: no need to tell them.
  if (!(message && message.item && message.item.kind === 'photo')) flash.show();
}

function showLive() {
  screens.show('live', { bar: true });
}

/** Start: the person accepts the notice; camera, then (optionally) location, then media. */
async function start() {
  if (!Camera.supported) {
    screens.message('insecure');
    return;
  }
  view.starting = true;
  els.start.disabled = true;
  els.startLabel.textContent = t('starting');
  try {
    await camera.start();
  } catch (error) {
    screens.cameraProblem(error);
    return;
  } finally {
    view.starting = false;
    renderStart();
  }
  camera.addEventListener('ended', restoreCamera);
  view.started = true;
  showPreview();
  showLive();
  keepAwake();
  render();
  if (!view.locationAsked) {
    view.locationAsked = true;
    notice(t('locating'), { sticky: true });
    view.location = await currentLocation();
    notice('');
  }
  view.accepted = true;
  proceed();
  if (pendingPhoto) photo.request(pendingPhoto);
  pendingPhoto = null;
}

/** Media flows once the person has pressed Start and the server has logged their consent. */
function proceed() {
  const welcome = view.welcome;
  if (!view.accepted || view.terminal || !welcome || !signaling.isOpen) return;
  if (welcome.consent && welcome.consent.required) {
    if (view.consentSent) return;
    // The language of the notice read: the server logs the hash of its own text in it.
    const message = { type: 'consent', accepted: true, lang: currentLanguage() };
    if (view.location) message.location = view.location;
    view.consentSent = signaling.send(message);
    return;
  }
  if (link.pc) return;
  link.welcome(welcome.ice_servers);
  sendMediaState();
}

function showPreview() {
  els.video.srcObject = camera.stream;
  els.video.classList.toggle('mirrored', camera.facing === 'user');
  els.video.play().catch(() => {});
  els.torch.hidden = !camera.hasTorch;
  setPressed(els.torch, false);
}

function addTransceivers(pc) {
  const video = pc.addTransceiver(camera.video, { direction: 'sendonly', streams: [camera.stream] });
  if (camera.audio) pc.addTransceiver(camera.audio, { direction: 'sendrecv', streams: [camera.stream] });
  else pc.addTransceiver('audio', { direction: 'recvonly' });
  videoSender = video.sender;
}

function sendMediaState() {
  const video = camera.video;
  signaling.send({
    type: 'media-state',
    audio: Boolean(camera.audio) && !view.muted,
    video: Boolean(video && video.readyState === 'live'),
  });
}

async function useVideoTrack(track) {
  if (track) track.enabled = !view.paused; // a new camera stays paused
  if (videoSender) await videoSender.replaceTrack(track);
  showPreview();
  sendMediaState();
}

async function flipCamera() {
  els.flip.disabled = true;
  try {
    await useVideoTrack(await camera.flip());
    notice('');
  } catch {
    notice(t('switchFailed'));
  } finally {
    els.flip.disabled = false;
  }
}

async function restoreCamera() {
  if (view.terminal || document.visibilityState !== 'visible') return;
  try {
    await useVideoTrack(await camera.reopen());
    notice('');
  } catch {
    notice(t('cameraLost'), { sticky: true });
  }
}

async function toggleTorch() {
  try {
    await camera.setTorch(!camera.torchOn);
    setPressed(els.torch, camera.torchOn);
  } catch {
    els.torch.hidden = true;
    notice(t('torchFailed'));
  }
}

/** Pause or resume the camera: nothing is sent while paused; the auditor and the ledger know. */
function setPaused(paused) {
  view.paused = paused;
  if (camera.video) camera.video.enabled = !paused;
  setPressed(els.pause, paused);
  els.pauseLabel.textContent = t(paused ? 'resume' : 'pause');
  signaling.send({ type: paused ? 'pause' : 'resume' });
  render();
}

function toggleMute() {
  view.muted = !view.muted;
  camera.setMuted(view.muted);
  setPressed(els.mute, view.muted);
  sendMediaState();
  render();
}

async function keepAwake() {
  if (!('wakeLock' in navigator) || wakeLock || document.visibilityState !== 'visible') return;
  try {
    wakeLock = await navigator.wakeLock.request('screen');
    wakeLock.addEventListener('release', () => { wakeLock = null; });
  } catch {
    wakeLock = null;
  }
}

/** The end screen: `kind` picks the title and text from the catalogue. */
function end(kind) {
  if (view.terminal) return;
  view.terminal = true;
  signaling.stop();
  photo.close();
  marker.hide();
  link.close();
  vaudit.pc = null;
  camera.stop();
  if (wakeLock) wakeLock.release().catch(() => {});
  // A finished audit is a good end: a check mark, and no red "Disconnected" above it.
  const success = kind === 'completed';
  screens.message(kind, { bar: !success, tone: success ? 'success' : 'problem' });
  renderAuditors();
  render();
}

/** Which end screen a final close shows. */
function endKind(code) {
  if (code === 4403 && accessEnded) return ENDED_REASONS[accessEnded.reason] || 'accessEnded';
  return REFUSALS[refusal] || CLOSE_PROBLEMS[code] || 'accessEnded';
}

function joinMessage() {
  const message = { type: 'join', token: config.token, client: navigator.userAgent.slice(0, 200) };
  const lang = joinLanguage();
  if (lang) message.lang = lang;
  const device = deviceId();
  if (device) message.device = device;
  return message;
}

// Peer connection events.
link.addEventListener('pc', ({ detail: pc }) => {
  vaudit.pc = pc;
  view.retrying = false;
  render();
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
link.addEventListener('track', ({ detail: event }) => {
  if (event.track.kind !== 'audio') return;
  els.audio.srcObject = new MediaStream([event.track]);
  els.audio.play().catch(() => {});
});
link.addEventListener('error', ({ detail: error }) => console.warn('peer connection:', error.message));

// Signaling events.
signaling.addEventListener('open', () => {
  view.socketOpen = true;
  signaling.send(joinMessage());
  render();
});
signaling.addEventListener('close', ({ detail }) => {
  view.socketOpen = false;
  if (detail.terminal) end(endKind(detail.code));
  else render();
});
signaling
  .on('welcome', (message) => {
    view.joined = true;
    view.welcome = message;
    view.consentSent = false;
    view.pcState = 'new';
    roster.reset(message.participant, message.participants);
    // A new session: the old connection is gone with the old socket.
    link.close();
    vaudit.pc = null;
    if (view.paused) signaling.send({ type: 'pause' });
    render();
    proceed();
  })
  .on('consent-recorded', (message) => {
    if (!message.accepted || !view.welcome) return;
    view.welcome.consent = { ...view.welcome.consent, required: false };
    proceed();
  })
  .on('checkpoint', (message) => instruction.show(message.checkpoint))
  .on('pointer', (message) => {
    if (view.started && !view.terminal) marker.show(message.x, message.y);
  })
  .on('photo-request', (message) => {
    if (view.terminal) return;
    if (view.started) photo.request(message);
    else pendingPhoto = message;
  })
  // The page's own words (in the phone's language) rather than the server's English.
  .on('audit-completed', () => end('completed'))
  // Sent just before the server closes with 4403; the close itself shows the screen.
  .on('access-ended', (message) => { accessEnded = message; })
  .on('answer', (message) => link.answer(message.sdp))
  .on('captured', flashCaptured)
  .on('evidence', flashCaptured)
  .on('participant-joined', (message) => roster.upsert(message.participant))
  .on('participant-updated', (message) => roster.upsert(message.participant))
  .on('participant-left', (message) => roster.remove(message.participant_id))
  .on('error', (message) => {
    refusal = message.code;
    if (message.code === 'bad_sdp') link.offerRefused();
    else console.warn(`server refused a message: ${message.code}: ${message.message}`);
  });

els.start.addEventListener('click', start);
els.messageAction.addEventListener('click', start);
els.mute.addEventListener('click', toggleMute);
els.pause.addEventListener('click', () => setPaused(!view.paused));
els.flip.addEventListener('click', flipCamera);
els.torch.addEventListener('click', toggleTorch);
document.addEventListener('visibilitychange', () => {
  if (!view.started || view.terminal || document.visibilityState !== 'visible') return;
  keepAwake();
  const video = camera.video;
  if (!video || video.readyState === 'ended') restoreCamera();
});
window.addEventListener('pagehide', () => {
  signaling.stop();
  link.close();
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted && !view.terminal) signaling.connect();
});

/** Another language: every text again; before Start, rejoin so the server speaks it too. */
function languageChanged() {
  screens.refresh();
  instruction.refresh();
  renderAuditors();
  render();
  if (view.joined && !view.started && !view.terminal) signaling.restart();
}

await loadStrings();
onLanguageChange(languageChanged);
window.addEventListener('online', render);
window.addEventListener('offline', render);
renderAuditors();
render();
// The notice comes with `welcome`: connect before Start, without camera or media.
signaling.connect();
