// Facility phone page: after consent, send the camera and microphone to the auditor and
// play the auditor's voice. Recovers from network trouble by itself.

import { Camera } from './camera.js';
import { $, readConfig, setBadge, setPressed } from './dom.js';
import { Roster } from './participants.js';
import { PeerLink } from './peer.js';
import { Signaling } from './signaling.js';
import { applyStrings, joinLanguage, t } from './strings.js';

const config = readConfig();

const els = {
  bar: $('#staff-bar'),
  badge: $('[data-testid="connection-state"]'),
  auditors: $('#auditors'),
  screens: [...document.querySelectorAll('.screen')],
  start: $('#start'),
  startLabel: $('#start-label'),
  video: $('#local-video'),
  banner: $('#live-banner'),
  flash: $('#captured-flash'),
  flashStatus: $('#captured-status'),
  mute: $('#mute'),
  flip: $('#switch-camera'),
  torch: $('#torch'),
  audio: $('#remote-audio'),
  messageTitle: $('#message-title'),
  messageBody: $('#message-body'),
  messageSteps: $('#message-steps'),
  messageAction: $('#message-action'),
};

// What each failure to start the camera means for the person holding the phone.
const CAMERA_PROBLEMS = {
  NotAllowedError: 'denied',
  SecurityError: 'denied',
  NotFoundError: 'noCamera',
  OverconstrainedError: 'noCamera',
  NotReadableError: 'busy',
  AbortError: 'busy',
};
const CLOSE_PROBLEMS = { 4401: 'expired', 4404: 'notFound', 4409: 'completed' };

const view = {
  started: false,
  socketOpen: false,
  joined: false,
  pcState: 'new',
  pcEverConnected: false,
  retrying: false,
  muted: false,
  terminal: false,
  notice: '',
};

const vaudit = { pc: null, state: 'connecting' };
window.vaudit = vaudit;

const camera = new Camera();
const signaling = new Signaling(config.ws_path);
const roster = new Roster(renderAuditors);
// A failed connection on a phone usually means the network changed under it: rejoin on a
// fresh socket (new join, new connection, new offer) instead of reusing the old one.
const link = new PeerLink({
  send: (message) => signaling.send(message),
  setup: addTransceivers,
  recover: () => signaling.restart(),
});
let videoSender = null;
let wakeLock = null;

function showScreen(name) {
  for (const screen of els.screens) screen.hidden = screen.id !== `screen-${name}`;
  els.bar.hidden = !(view.started || view.terminal);
}

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
  if (!banner && state === 'reconnecting') banner = t('reconnectingHint');
  if (!banner && state === 'connecting') banner = t('connectingHint');
  if (!banner && view.muted) banner = t('micOff');
  els.banner.textContent = banner;
  els.banner.hidden = !banner;
  els.banner.dataset.tone = state === 'connected' ? 'info' : 'warn';
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

const FLASH_MS = 1_200;
let flashTimer = 0;

/** The auditor took a picture: flash the preview so the person filming holds still. */
function flashCaptured() {
  if (!view.started || view.terminal) return;
  const flash = els.flash;
  clearTimeout(flashTimer);
  flash.dataset.shown = 'false';
  void flash.offsetWidth; // restart the animation when captures follow each other
  flash.dataset.shown = 'true';
  els.flashStatus.textContent = t('capturedTitle');
  if (typeof navigator.vibrate === 'function') navigator.vibrate(50);
  flashTimer = setTimeout(() => {
    flash.dataset.shown = 'false';
    els.flashStatus.textContent = '';
  }, FLASH_MS);
}

/** A full-screen message; `retry` adds a Try again button, `steps` a list of instructions. */
function showMessage(kind, { retry = false, steps = [] } = {}) {
  els.messageTitle.textContent = t(`${kind}Title`);
  els.messageBody.textContent = t(`${kind}Body`);
  els.messageSteps.replaceChildren(...steps.map((key) => Object.assign(document.createElement('li'), { textContent: t(key) })));
  els.messageSteps.hidden = steps.length === 0;
  els.messageAction.hidden = !retry;
  showScreen('message');
  if (retry) els.messageAction.focus();
}

function showCameraProblem(error) {
  const kind = CAMERA_PROBLEMS[error && error.name] || 'unknown';
  const steps = kind === 'denied' ? ['deniedIphone', 'deniedAndroid', 'deniedAfter'] : [];
  showMessage(kind, { retry: kind !== 'noCamera', steps });
}

async function start() {
  if (!Camera.supported) {
    showMessage('insecure');
    return;
  }
  els.start.disabled = true;
  els.startLabel.textContent = t('starting');
  try {
    await camera.start();
  } catch (error) {
    showCameraProblem(error);
    return;
  } finally {
    els.start.disabled = false;
    els.startLabel.textContent = t('start');
  }
  view.started = true;
  camera.addEventListener('ended', restoreCamera);
  showPreview();
  showScreen('live');
  keepAwake();
  render();
  signaling.connect();
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

function end(kind) {
  view.terminal = true;
  link.close();
  vaudit.pc = null;
  camera.stop();
  if (wakeLock) wakeLock.release().catch(() => {});
  showMessage(kind);
  renderAuditors();
  render();
}

function joinMessage() {
  const message = { type: 'join', token: config.token, client: navigator.userAgent.slice(0, 200) };
  const lang = joinLanguage();
  if (lang) message.lang = lang;
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
  if (detail.terminal) end(CLOSE_PROBLEMS[detail.code]);
  else render();
});
signaling
  .on('welcome', (message) => {
    view.joined = true;
    roster.reset(message.participant, message.participants);
    link.welcome(message.ice_servers);
    sendMediaState();
  })
  .on('answer', (message) => link.answer(message.sdp))
  .on('captured', flashCaptured)
  .on('evidence', flashCaptured)
  .on('participant-joined', (message) => roster.upsert(message.participant))
  .on('participant-updated', (message) => roster.upsert(message.participant))
  .on('participant-left', (message) => roster.remove(message.participant_id))
  .on('error', (message) => {
    if (message.code === 'bad_sdp') link.offerRefused();
    else console.warn(`server refused a message: ${message.code}: ${message.message}`);
  });

els.start.addEventListener('click', start);
els.messageAction.addEventListener('click', start);
els.mute.addEventListener('click', toggleMute);
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
  if (event.persisted && view.started && !view.terminal) signaling.connect();
});

applyStrings();
renderAuditors();
render();
els.start.disabled = false;
