// Phone tech check, run from the invite link before the audit: camera, microphone,
// connection to the server and upload speed, each with plain advice; the summary goes to
// the auditor.

import { $, readConfig } from './dom.js';
import { loadStrings, onLanguageChange, t } from './strings.js';
import { UPLOAD_OK_KBPS } from './techcheck-panel.js';

const config = readConfig();

const PINGS = 5;
const SLOW_RTT_MS = 400;
const UPLOAD_BYTES = 2 * 1024 * 1024;
const UPLOAD_TIMEOUT_MS = 60_000;
const LISTEN_MS = 2_500;
const QUIET_LEVEL = 0.02; // RMS below this the whole time: nothing was heard
const LOW_VIDEO_LINES = 480;

const integer = new Intl.NumberFormat();

/** One line of the check list: its status (pending, running, ok, fail) and advice. */
class CheckRow {
  constructor(name) {
    this.node = $(`[data-check="${name}"]`);
    this.text = this.node.querySelector('.tc-text');
  }

  /** The row's status and its advice, a catalogue key with its values. */
  set(status, key, vars = {}) {
    this.node.dataset.status = status;
    this.said = [key, vars];
    this.text.removeAttribute('data-i18n');
    this.text.textContent = t(key, vars);
    // Keep the check in progress in view (the microphone meter is below the fold on a phone).
    if (status === 'running') this.node.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }

  /** The advice again, in the page's (new) language. */
  refresh() {
    if (this.said) this.text.textContent = t(...this.said);
  }
}

const rows = {
  camera: new CheckRow('camera'),
  microphone: new CheckRow('microphone'),
  server: new CheckRow('server'),
  upload: new CheckRow('upload'),
};
const els = {
  run: $('#tc-run'),
  preview: $('#tc-preview'),
  meter: $('#tc-meter'),
  meterFill: $('#tc-meter-fill'),
  summary: $('#tc-summary'),
  summaryText: $('#tc-summary-text'),
  sent: $('#tc-sent'),
};

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function mediaProblem(error, denied, missing) {
  return error && (error.name === 'NotAllowedError' || error.name === 'SecurityError') ? denied : missing;
}

async function checkCamera(row) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    row.set('fail', 'tcInsecure');
    return { camera: false, video: null, stream: null };
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (error) {
    row.set('fail', mediaProblem(error, 'tcCameraDenied', 'tcCameraMissing'));
    return { camera: false, video: null, stream: null };
  }
  const settings = stream.getVideoTracks()[0].getSettings();
  els.preview.srcObject = stream;
  els.preview.hidden = false;
  els.preview.play().catch(() => {});
  const video = settings.width && settings.height ? `${settings.width}x${settings.height}` : null;
  const lines = Math.min(settings.width || 0, settings.height || 0);
  const shown = video ? video.replace('x', '×') : '?';
  row.set('ok', lines && lines < LOW_VIDEO_LINES ? 'tcCameraLow' : 'tcCameraOk', { video: shown });
  return { camera: true, video, stream };
}

/** Listen for a moment and move the level meter; resolves to the loudest level heard. */
async function listen(stream) {
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  if (!AudioContextClass) return null;
  const context = new AudioContextClass();
  try {
    await context.resume();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let loudest = 0;
    els.meter.hidden = false;
    const until = performance.now() + LISTEN_MS;
    while (performance.now() < until) {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, value) => sum + value * value, 0) / samples.length);
      loudest = Math.max(loudest, rms);
      els.meterFill.style.transform = `scaleX(${Math.min(1, rms * 4).toFixed(3)})`;
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    return loudest;
  } finally {
    context.close().catch(() => {});
  }
}

async function checkMicrophone(row) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    row.set('fail', 'tcInsecure');
    return false;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    row.set('fail', mediaProblem(error, 'tcMicDenied', 'tcMicMissing'));
    return false;
  }
  row.set('running', 'tcMicListening');
  try {
    const loudest = await listen(stream);
    row.set('ok', loudest !== null && loudest < QUIET_LEVEL ? 'tcMicQuiet' : 'tcMicOk');
  } finally {
    for (const track of stream.getTracks()) track.stop();
  }
  return true;
}

async function checkServer(row) {
  const times = [];
  for (let n = 0; n < PINGS; n += 1) {
    const started = performance.now();
    try {
      const response = await fetch(`/healthz?probe=${Date.now()}-${n}`, { cache: 'no-store', credentials: 'omit' });
      await response.text();
      if (response.ok) times.push(performance.now() - started);
    } catch {
      // Counted as a lost probe.
    }
  }
  if (times.length < Math.ceil(PINGS / 2)) {
    row.set('fail', 'tcServerFailed');
    return { server: false, rtt: null };
  }
  const rtt = Math.round(median(times));
  row.set('ok', rtt > SLOW_RTT_MS ? 'tcServerSlow' : 'tcServerOk', { rtt: integer.format(rtt) });
  return { server: true, rtt };
}

function randomBytes(size) {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 64 KiB at a time. Random data cannot be compressed on the way.
  for (let offset = 0; offset < size; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65_536)));
  }
  return bytes;
}

async function checkUpload(row) {
  const body = randomBytes(UPLOAD_BYTES);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), UPLOAD_TIMEOUT_MS);
  const started = performance.now();
  try {
    const response = await fetch('/api/tech-check/upload', {
      method: 'POST',
      headers: { Authorization: `Invite ${config.token}`, 'Content-Type': 'application/octet-stream' },
      body,
      signal: abort.signal,
      credentials: 'omit',
    });
    await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch {
    row.set('fail', 'tcUploadFailed');
    return null;
  } finally {
    clearTimeout(timer);
  }
  const kbps = Math.round((UPLOAD_BYTES * 8) / Math.max(1, performance.now() - started));
  const ok = kbps >= UPLOAD_OK_KBPS;
  row.set(ok ? 'ok' : 'fail', ok ? 'tcUploadOk' : 'tcUploadSlow', { kbps: integer.format(kbps) });
  return kbps;
}

/** Tell the auditor; resolves to an error message, or '' when the results were stored. */
async function report(summary) {
  try {
    const response = await fetch('/api/tech-check', {
      method: 'POST',
      headers: { Authorization: `Invite ${config.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(summary),
      credentials: 'omit',
    });
    if (response.ok) return '';
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    return (body && body.error && body.error.message) || `HTTP ${response.status}`;
  } catch {
    return 'no connection';
  }
}

async function run() {
  els.run.disabled = true;
  els.run.dataset.i18n = 'tcRunning';
  els.run.textContent = t('tcRunning');
  els.summary.hidden = true;
  for (const row of Object.values(rows)) row.set('pending', 'tcPending');

  rows.camera.set('running', 'tcTesting');
  const { camera, video, stream } = await checkCamera(rows.camera);
  rows.microphone.set('running', 'tcTesting');
  const microphone = await checkMicrophone(rows.microphone);
  rows.server.set('running', 'tcTesting');
  const { server, rtt } = await checkServer(rows.server);
  rows.upload.set('running', 'tcTesting');
  const kbps = await checkUpload(rows.upload);
  if (stream) for (const track of stream.getTracks()) track.stop();
  els.preview.hidden = true;
  els.meter.hidden = true;

  const summary = {
    camera,
    microphone,
    server,
    rtt_ms: rtt === null ? null : Math.min(rtt, 60_000),
    upload_kbps: kbps === null ? null : Math.min(kbps, 10_000_000),
    video,
  };
  const allOk = Object.values(rows).every((row) => row.node.dataset.status === 'ok');
  const problem = await report(summary);
  els.summary.dataset.tone = allOk ? 'ok' : 'fail';
  els.summaryText.dataset.i18n = allOk ? 'tcAllOk' : 'tcSomeFailed';
  els.summaryText.textContent = t(els.summaryText.dataset.i18n);
  els.sent.textContent = problem ? t('tcNotSent', { reason: problem }) : t('tcSent');
  els.summary.hidden = false;
  els.run.disabled = false;
  els.run.dataset.i18n = 'tcRunAgain';
  els.run.textContent = t('tcRunAgain');
  els.summary.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

await loadStrings();
onLanguageChange(() => { for (const row of Object.values(rows)) row.refresh(); });
els.run.addEventListener('click', run);
