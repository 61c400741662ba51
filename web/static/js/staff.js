// Facility phone page: show the recording notice; once accepted, send the camera and
// microphone to the auditor, play the auditor's voice, and follow the auditor's directions
// (the current step, "point here", "take a photo"). Recovers from network trouble by itself.

import { Camera } from './camera.js';
import { currentLocation, deviceId } from './consent.js';
import { $, readConfig, setBadge, setPressed } from './dom.js';
import { CapturedFlash } from './flash.js';
import { InstructionCard } from './instruction.js';
import { MediaWatch } from './media-watch.js';
import { Roster } from './participants.js';
import { PeerLink } from './peer.js';
import { PhotoQueue } from './photo-queue.js';
import { PhotoRescue } from './photo-rescue.js';
import { PhotoTaker, uploadProblem } from './photo.js';
import { PointerMarker } from './pointer.js';
import { Screens } from './screens.js';
import { Signaling } from './signaling.js';
import { currentLanguage, joinLanguage, loadStrings, onLanguageChange, t } from './strings.js';
import { EncoderTuner, UplinkSampler, sendEncodings } from './uplink-stats.js';

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
  photoQueue: $('#photo-queue'),
  photoMode: $('#photo-mode-badge'),
};

// The end screen for each close after which the page must not reconnect. The server's codes
// pick it (the `error` before the close, the `access-ended` reason), never its English words.
const CLOSE_PROBLEMS = {
  4401: 'expired',
  4403: 'accessEnded',
  4404: 'notFound',
  4409: 'completed',
  4412: 'replaced', // the same phone opened the link again (another tab): that one goes on
  4429: 'tooManyCameras',
};
const REFUSALS = { unauthorized: 'expired', audit_completed: 'completed', not_found: 'notFound', too_many_cameras: 'tooManyCameras' };
const ENDED_REASONS = { invite_revoked: 'revoked', signed_out: 'accessEnded', unassigned: 'accessEnded' };
// End screens after which the server takes no photo of this link any more: what waits here
// stays on the phone, to be saved (photo-rescue.js). Another tab or a full room is no such end.
const STRANDING = { completed: 'closed', revoked: 'ended', expired: 'ended', accessEnded: 'ended', notFound: 'ended' };

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
  relayProblem: null, // {code, text}: the connection failed and the TURN relay refused us
  muted: false,
  paused: false, // the person paused the camera (a break): the video track sends nothing
  photoMode: false, // the auditor switched to photo mode: no video is sent, audio goes on
  terminal: false,
  notice: '',
};

// For tests: the connection, its state, how often the page opened a socket, found its peer
// connection silent or moved to another network (each either probed the socket or gave it up
// at once), and made a peer connection.
const vaudit = { pc: null, state: 'connecting', socketOpen: false, socketOpens: 0, pathLosses: 0, connections: 0 };
window.vaudit = vaudit;

const camera = new Camera();
const signaling = new Signaling(config.ws_path);
const roster = new Roster(renderAuditors);
const screens = new Screens();
const flash = new CapturedFlash($('#captured-flash'), $('#captured-status'));
const instruction = new InstructionCard();
const marker = new PointerMarker($('#pointer-marker'), els.video);
// Photos wait on the phone until the server has them, across drops and reloads.
const queue = new PhotoQueue({
  auditId: config.audit_id,
  token: config.token,
  problem: uploadProblem,
  damaged: () => t('photoDamaged'),
});
const rescue = new PhotoRescue(queue);
let queueProblem = ''; // why the last photo that left the queue unsent did
let queueReported = ''; // the last report sent to the auditors
let queueReportedCount = 0;
let queueReportTimer = 0;
// A photo that goes out at once is no news for the auditors: more waiting is told after this.
const QUEUE_NEWS_MS = 2_000;
const photo = new PhotoTaker({
  queue,
  track: () => camera.video,
  location: () => view.location,
  camera: () => (view.welcome && view.welcome.participant ? view.welcome.participant.camera ?? null : null),
  onDecline: (answer) => signaling.send({ type: 'photo-declined', ...answer }),
});
let pendingPhoto = null; // a photo request that came before Start
// A failed connection on a phone usually means the network changed under it: a socket the
// server answered just now carries a new offer; a quiet one may be bound to a network that
// is gone, so rejoin on a fresh socket (new join, new connection, new offer).
const SOCKET_FRESH_MS = 4_000;
const SOCKET_PROBE_MS = 1_500;
const link = new PeerLink({
  send: (message) => signaling.send(message),
  setup: addTransceivers,
  recover: () => (signaling.heardWithin(SOCKET_FRESH_MS) ? link.renew() : signaling.restart()),
});
// Nothing arriving on a connected peer connection, or its path moved to another local
// address: the phone may be on another network (nothing else tells the page). After a
// silence, a socket quiet for a second too is given up for a new one at once (the server's
// rejoin replaces the old one and `welcome` renews the connection); otherwise the socket is
// pinged and given up if no answer comes within a second.
const SOCKET_QUIET_MS = 1_000;
const watch = new MediaWatch({ pc: () => link.pc });
function pathLost(why, { probeOnly = false } = {}) {
  if (view.terminal || !signaling.isOpen) return;
  vaudit.pathLosses += 1;
  const quiet = !probeOnly && !signaling.heardWithin(SOCKET_QUIET_MS);
  console.info(`peer connection ${why}; socket ${quiet ? 'quiet too: given up' : 'pinged'}`);
  if (quiet) signaling.restart(true);
  else signaling.probe(SOCKET_QUIET_MS);
}
watch.addEventListener('silent', ({ detail }) => pathLost(`silent for ${Math.round(detail.silentMs)} ms`));
// A phone with Wi-Fi and mobile data both up may move its media between them while the
// socket still works: only an unanswered ping gives the socket up then.
watch.addEventListener('moved', () => pathLost('moved to another network', { probeOnly: true }));
// The uplink report for the auditor comes from the same readings (one getStats() loop).
watch.addEventListener('report', ({ detail }) => uplink.take(detail.pc, detail.report));
let videoSender = null;
// Audio first on a thin uplink; the numbers go to the auditor (docs/architecture.md, "Thin uplinks").
const tuner = new EncoderTuner();
const uplink = new UplinkSampler({
  send: (message) => signaling.send(message),
  active: () => !view.photoMode && !view.paused,
});
let accessEnded = null; // the server's `access-ended` message, if it sent one
let refusal = null; // the code of the server's last `error`, which may precede its close
let wakeLock = null;

function connectionView() {
  if (view.terminal) return ['failed', t('stateFailed')];
  // Retries go on, but saying "reconnecting" forever would hide a relay that refuses us.
  if (view.relayProblem && view.pcState !== 'connected') return ['failed', t('stateBlocked')];
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
  if (!banner && state === 'failed' && view.relayProblem) banner = t('relayFailed');
  els.banner.dataset.problem = view.relayProblem && state === 'failed' ? 'relay' : '';
  if (!banner && state === 'reconnecting') banner = t(navigator.onLine === false ? 'offlineBody' : 'reconnectingHint');
  if (!banner && state === 'connecting') banner = t('connectingHint');
  if (!banner && view.paused) banner = t('pausedBanner');
  if (!banner && view.photoMode) banner = t('photoModeBanner');
  if (!banner && view.muted) banner = t('micOff');
  els.banner.textContent = banner;
  els.banner.hidden = !banner;
  els.banner.dataset.tone = state === 'connected' ? 'info' : 'warn';
  // Media reaches the server, which records it: say so while it does.
  els.rec.hidden = state !== 'connected' || view.paused;
  els.photoMode.hidden = !view.photoMode || view.terminal;
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

/** The phone's own queue: "2 photos waiting to upload", or why a photo left it unsent. */
function renderQueue() {
  const { count } = queue.state();
  let text = count === 1 ? t('photoQueueOne') : count > 1 ? t('photoQueueMany', { count }) : '';
  if (queueProblem) text = text ? `${queueProblem} ${text}` : queueProblem;
  els.photoQueue.textContent = text;
  els.photoQueue.hidden = !text || view.terminal || Boolean(queue.stranded);
  els.photoQueue.dataset.tone = queueProblem ? 'error' : '';
}

/** Tell the auditors what waits here; `force` after a (re)join or a new auditor. */
function reportQueue(force = false) {
  const state = queue.state();
  const key = queueKey();
  if (!view.joined || view.terminal || (!force && key === queueReported)) return;
  if (!force && state.count > queueReportedCount) {
    queueReportTimer = queueReportTimer || setTimeout(() => {
      queueReportTimer = 0;
      reportQueue(queueKey() !== queueReported);
    }, QUEUE_NEWS_MS);
    return;
  }
  clearTimeout(queueReportTimer);
  queueReportTimer = 0;
  if (signaling.send({ type: 'photo-queue', ...state })) {
    queueReported = key;
    queueReportedCount = state.count;
  }
}

function queueKey() {
  const { count, bytes } = queue.state();
  return `${count}/${bytes}`;
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
  watch.start();
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
  link.welcome(welcome.ice_servers, welcome.ice_transport_policy);
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
  const stream = camera.stream;
  const video = pc.addTransceiver(camera.video, { direction: 'sendonly', streams: [stream], sendEncodings: sendEncodings('video') });
  const audio = camera.audio
    ? pc.addTransceiver(camera.audio, { direction: 'sendrecv', streams: [stream], sendEncodings: sendEncodings('audio') })
    : pc.addTransceiver('audio', { direction: 'recvonly' });
  videoSender = video.sender;
  tuner.attach(video.sender, camera.audio ? audio.sender : null);
}

/** The auditor switched photo mode: pause or resume the video encoding, say so. */
function setPhotoMode(on) {
  view.photoMode = on;
  tuner.setActive(!on);
  render();
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
  if (STRANDING[kind]) queue.strand(STRANDING[kind]);
  else queue.stop();
  photo.close();
  uplink.stop();
  watch.stop();
  marker.hide();
  link.close();
  vaudit.pc = null;
  camera.stop();
  if (wakeLock) wakeLock.release().catch(() => {});
  // A finished audit is a good end: a check mark, and no red "Disconnected" above it.
  const success = kind === 'completed';
  screens.message(kind, { bar: !success, tone: success ? 'success' : 'problem' });
  renderAuditors();
  renderQueue();
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
  if (signaling.openedAt) message.opened = signaling.openedAt;
  return message;
}

// Peer connection events.
link.addEventListener('pc', ({ detail: pc }) => {
  vaudit.pc = pc;
  vaudit.connections += 1;
  view.retrying = false;
  render();
});
link.addEventListener('state', ({ detail: state }) => {
  view.pcState = state;
  // The media path broke: check at once whether the socket still reaches the server (after
  // a switch to another network it does not, and a new socket brings a new connection).
  if (state === 'disconnected' || state === 'failed') signaling.probe(SOCKET_PROBE_MS);
  if (state === 'connected') {
    view.pcEverConnected = true;
    view.relayProblem = null;
  }
  render();
});
link.addEventListener('recovering', () => {
  view.retrying = true;
  render();
});
link.addEventListener('relay-problem', ({ detail: problem }) => {
  view.relayProblem = problem;
  vaudit.relayProblem = problem;
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
  link.signalingLost(); // not joined on this socket yet: no offer before its `welcome`
  view.socketOpen = true;
  vaudit.socketOpen = true;
  vaudit.socketOpens += 1;
  signaling.send(joinMessage());
  render();
});
signaling.addEventListener('close', ({ detail }) => {
  link.signalingLost();
  view.socketOpen = false;
  vaudit.socketOpen = false;
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
    // Photo mode is this camera's: a `photo-mode` follows this welcome if it is still on.
    if (view.photoMode) setPhotoMode(false);
    render();
    proceed();
    // The link is back: report what waits, and send it now rather than at its back-off.
    reportQueue(true);
    queue.retryNow();
  })
  .on('consent-recorded', (message) => {
    if (!message.accepted || !view.welcome) return;
    view.welcome.consent = { ...view.welcome.consent, required: false };
    proceed();
  })
  .on('checkpoint', (message) => instruction.show(message.checkpoint))
  // The server saw the phone's video stop and come back: say how long it was lost.
  .on('facility-link', (message) => {
    if (message.state === 'live' && Number.isFinite(message.gap_ms) && view.started && !view.terminal) {
      notice(t('gapRecovered', { seconds: Math.max(1, Math.round(message.gap_ms / 1000)) }));
    }
  })
  .on('pointer', (message) => {
    if (view.started && !view.terminal) marker.show(message.x, message.y);
  })
  .on('photo-mode', (message) => {
    // The server tells a phone about its own camera only; a number that is not ours is ignored.
    const own = view.welcome && view.welcome.participant ? view.welcome.participant.camera : null;
    if (Number.isInteger(message.camera) && Number.isInteger(own) && message.camera !== own) return;
    setPhotoMode(Boolean(message.on));
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
  .on('participant-joined', (message) => {
    roster.upsert(message.participant);
    if (message.participant && message.participant.role === 'auditor') reportQueue(true);
  })
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
  renderQueue();
  rescue.render();
  instruction.refresh();
  renderAuditors();
  render();
  if (view.joined && !view.started && !view.terminal) signaling.restart();
}

let queuedBefore = 0;
queue.addEventListener('change', ({ detail }) => {
  if (detail.count > queuedBefore) queueProblem = ''; // a new photo: the old news is over
  queuedBefore = detail.count;
  renderQueue();
  reportQueue();
});
queue.addEventListener('stranded', renderQueue);
queue.addEventListener('refused', ({ detail }) => {
  if (photo.shows(detail.item.id)) return; // the photo prompt says it already
  queueProblem = t('photoDropped', { reason: detail.text });
  renderQueue();
});

await loadStrings();
onLanguageChange(languageChanged);
window.addEventListener('online', () => {
  // The browser sees a network again; a connection that was being made before it did may
  // have gathered addresses of a network that is gone: make it again, now.
  if (view.accepted && !view.terminal && signaling.isOpen && link.pc && link.state !== 'connected') link.renew();
  render();
});
window.addEventListener('offline', render);
renderAuditors();
render();
// Photos left from an earlier visit of this link are sent without waiting for Start.
queue.open();
// The notice comes with `welcome`: connect before Start, without camera or media.
signaling.connect();
