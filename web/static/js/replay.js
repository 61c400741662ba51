// Replay of a recorded audit: the phone's video as it was recorded, a timeline with the
// checkpoints and captures, the stills near the playhead, and every capture's standing in
// the evidence ledger. `#t=<seconds>` in the address starts playback at that moment.

import { $, api, formatDateTime, isTyping, noticeLine, readConfig } from './dom.js';
import { EvidenceList, StillsStrip, indexAtOrBefore, wallClock } from './replay-evidence.js';
import { FollowerPlayer, camerasOf, segmentsOf } from './replay-cameras.js';
import { SegmentSource } from './replay-source.js';
import { Timeline, clock, recoveredText } from './replay-timeline.js';

const config = readConfig();
const STEP_S = 5;

const els = {
  video: $('#replay-video'),
  frames: $('#replay-frames'),
  cameraLabel: $('#replay-camera-label'),
  second: $('#replay-second'),
  secondVideo: $('#replay-video-second'),
  secondLabel: $('#replay-second-label'),
  overlay: $('#replay-overlay'),
  overlayText: $('#replay-overlay-text'),
  retry: $('#replay-retry'),
  timeline: $('#timeline'),
  speed: $('#speed'),
  position: $('#replay-position'),
  wall: $('#replay-wall'),
  checkpoint: $('#replay-checkpoint'),
  play: $('#play'),
  previous: $('#previous-checkpoint'),
  next: $('#next-checkpoint'),
  summary: $('#replay-summary'),
  ledger: $('#replay-ledger'),
  integrity: $('#replay-integrity'),
  notice: $('#replay-notice'),
  recovered: $('#replay-recovered'),
  stills: $('#stills-strip'),
  stillsEmpty: $('#stills-empty'),
  evidence: {
    list: $('#evidence-list'),
    empty: $('#evidence-empty'),
    count: $('#evidence-count'),
  },
};

// Both requests start at once; the recording does not wait for the checkpoint titles.
const manifestRequest = api(config.manifest_url);
const titles = new Map();
const titlesRequest = api(`/api/audits/${encodeURIComponent(config.audit_id)}/checkpoints`)
  .then((view) => {
    for (const section of view.sections || []) {
      for (const cp of section.checkpoints || []) titles.set(cp.key, cp.title);
    }
  })
  .catch(() => {}); // an audit without a checklist: flags are named by their keys
const titleOf = (key) => titles.get(key) || key || '';

const page = { manifest: null, timeline: null, stills: null, list: null, checkpoints: [], frame: 0 };

function overlay(text, { retry = false } = {}) {
  els.overlay.hidden = !text;
  els.overlayText.textContent = text || '';
  els.retry.hidden = !retry;
}

const notice = noticeLine(els.notice);

/** The start time asked for in the address: "#t=75" or "#t=1:15". */
function hashTime() {
  const match = /(?:^#|&)t=([\d:.]+)/.exec(location.hash);
  if (!match) return null;
  const seconds = match[1].split(':').reduce((total, part) => total * 60 + Number(part), 0);
  return Number.isFinite(seconds) ? seconds : null;
}

function seek(t) {
  const duration = page.manifest ? page.manifest.duration : 0;
  els.video.currentTime = Math.min(Math.max(t, 0), Math.max(duration - 0.05, 0));
  render();
}

/** Index of the checkpoint the auditor was at at time t, or -1 before the first move. */
function checkpointAt(t) {
  const list = page.checkpoints;
  if (!list.length || list[0].offset > t) return -1;
  return indexAtOrBefore(list, t);
}

function stepCheckpoint(direction) {
  const t = els.video.currentTime;
  const list = page.checkpoints;
  const target = direction > 0
    ? list.find((cp) => cp.offset > t + 0.5)
    : [...list].reverse().find((cp) => cp.offset < t - 1);
  if (target) seek(Math.max(target.offset, 0));
  else if (direction < 0) seek(0);
}

function render() {
  if (!page.manifest) return;
  const t = els.video.currentTime;
  page.timeline.update(t);
  page.stills.update(t);
  page.list.update(t);
  els.position.textContent = `${clock(t)} / ${clock(page.manifest.duration)}`;
  if (page.manifest.segments.length) {
    const wall = new Date(page.manifest.start_ns / 1e6 + t * 1000).toISOString();
    els.wall.dateTime = wall;
    els.wall.textContent = wallClock(wall);
    els.wall.title = `${formatDateTime(wall)} · ${wall} (UTC)`;
  }
  const index = checkpointAt(t);
  const current = index >= 0 ? page.checkpoints[index] : null;
  els.checkpoint.textContent = current ? titleOf(current.key) : 'none yet';
  for (const marker of page.timeline.markers) marker.classList.remove('is-current');
  if (current) page.timeline.markers[index].classList.add('is-current');
}

/** Keep the playhead smooth while playing; timeupdate alone moves it four times a second. */
function animate() {
  cancelAnimationFrame(page.frame);
  const step = () => {
    render();
    if (!els.video.paused) page.frame = requestAnimationFrame(step);
  };
  page.frame = requestAnimationFrame(step);
}

function togglePlay() {
  if (els.video.paused) els.video.play().catch(() => {});
  else els.video.pause();
}

/** The play button says what it does next, and is pressed while playing. */
function showPlaying() {
  const playing = !els.video.paused;
  els.play.textContent = playing ? 'Pause' : 'Play';
  els.play.setAttribute('aria-pressed', String(playing));
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event) || !page.manifest) return;
  const video = els.video;
  if (event.key === ' ') {
    // Space presses a focused link or action button; on the player's own controls it plays.
    if (event.target.closest('a, button, select')) return;
    togglePlay();
  } else if (event.key === 'ArrowLeft') seek(video.currentTime - STEP_S);
  else if (event.key === 'ArrowRight') seek(video.currentTime + STEP_S);
  else if (event.key === '[') stepCheckpoint(-1);
  else if (event.key === ']') stepCheckpoint(1);
  else return;
  event.preventDefault();
  // The video's own controls would act on these keys too, with steps of their own.
  event.stopPropagation();
}

function describe(manifest) {
  const segments = manifest.segments.length;
  const started = manifest.start_ns ? formatDateTime(new Date(manifest.start_ns / 1e6).toISOString()) : '';
  els.summary.textContent = segments
    ? `${clock(manifest.duration)} recorded in ${segments} segment${segments === 1 ? '' : 's'}${started ? `, from ${started}` : ''}`
    : 'No recording';
  const recovered = manifest.segments.filter((segment) => segment.recovered);
  els.recovered.textContent = recovered.map(recoveredText).join(' ');
  els.recovered.hidden = !recovered.length;
  const size = manifest.tree_head_size || 0;
  els.ledger.textContent = size
    ? `The latest signed tree head covers ${size} ledger entr${size === 1 ? 'y' : 'ies'}.`
    : 'No tree head has been signed for this audit yet.';
}

function wirePlayer(manifest, segments = manifest.segments) {
  const video = els.video;
  video.addEventListener('timeupdate', render);
  video.addEventListener('seeked', render);
  video.addEventListener('play', animate);
  const showBuffered = () => page.timeline.showBuffered(video.buffered);
  video.addEventListener('progress', showBuffered);
  video.addEventListener('seeked', showBuffered);
  video.addEventListener('loadeddata', () => overlay(''), { once: true });
  video.addEventListener('error', () => {
    const detail = video.error && video.error.message ? ` (${video.error.message})` : '';
    overlay(`The recording could not be played in this browser${detail}.`, { retry: true });
  });
  video.addEventListener('ratechange', () => { els.speed.value = String(video.playbackRate); });
  els.speed.addEventListener('change', () => {
    const rate = Number(els.speed.value);
    video.playbackRate = rate;
    video.defaultPlaybackRate = rate;
  });
  els.previous.addEventListener('click', () => stepCheckpoint(-1));
  els.next.addEventListener('click', () => stepCheckpoint(1));
  window.addEventListener('keydown', onKey, { capture: true });
  window.addEventListener('hashchange', () => {
    const t = hashTime();
    if (t !== null) seek(t);
  });

  const source = new SegmentSource(video, segments, manifest.duration);
  source.addEventListener('buffered', showBuffered);
  source.addEventListener('skipped', (event) => {
    const { segment, error } = event.detail;
    notice(`Part of the recording could not be loaded (segment ${segment.seq}, at ${clock(segment.offset)}: ${error.message}); playback skips it.`);
    page.timeline.showBuffered(video.buffered);
  });
  const tally = { matched: 0, altered: [] };
  source.addEventListener('checked', (event) => {
    const { segment, matches } = event.detail;
    if (matches) tally.matched += 1;
    else tally.altered.push(segment.seq);
    const total = manifest.segments.length;
    els.integrity.dataset.state = tally.altered.length ? 'fail' : 'ok';
    els.integrity.textContent = tally.altered.length
      ? `Segment${tally.altered.length === 1 ? '' : 's'} ${tally.altered.join(', ')} ${tally.altered.length === 1 ? 'does' : 'do'} not match the SHA-256 recorded at the time: changed or damaged since.`
      : `${tally.matched} of ${total} video segment${total === 1 ? '' : 's'} checked in this browser so far: each matches its recorded SHA-256.`;
  });
  source.addEventListener('fatal', (event) => {
    overlay(`The recording stopped loading: ${event.detail.message}.`, { retry: true });
  });
  const start = hashTime() ?? 0;
  // A second camera: its own player beside the first, on the same timeline.
  const cameras = camerasOf(manifest.segments);
  if (cameras.length > 1) {
    const [first, second] = cameras;
    els.frames.dataset.cameras = '2';
    els.cameraLabel.textContent = `Camera ${first}`;
    els.cameraLabel.hidden = false;
    els.secondLabel.textContent = `Camera ${second}`;
    els.second.hidden = false;
    els.secondVideo.dataset.camera = String(second);
    const follower = new FollowerPlayer(video, els.secondVideo, segmentsOf(manifest.segments, second), manifest.duration);
    follower.source.addEventListener('checked', (event) => source.dispatchEvent(new CustomEvent('checked', { detail: event.detail })));
    follower.start(start);
  }
  return source.start(start);
}

async function main() {
  overlay('Loading the recording…');
  let manifest;
  try {
    manifest = await manifestRequest;
  } catch (error) {
    overlay(`The recording could not be loaded: ${error.message}`, { retry: true });
    return;
  }
  manifest.segments = manifest.segments || [];
  page.manifest = manifest;
  const segments = manifest.segments;
  const byOffset = (a, b) => a.offset - b.offset;
  const evidence = (manifest.evidence || []).slice().sort(byOffset);
  const stills = evidence.filter((item) => item.kind === 'still');
  const items = evidence.filter((item) => item.kind !== 'still');
  page.checkpoints = (manifest.checkpoints || []).slice().sort(byOffset);

  page.stills = new StillsStrip(els.stills, els.stillsEmpty, stills, seek);
  page.timeline = new Timeline(els.timeline, {
    duration: manifest.duration, seek, titleOf, stillAt: (t) => page.stills.at(t),
  });
  page.timeline.setCheckpoints(page.checkpoints);
  page.timeline.setEvidence(items);
  page.timeline.setRecovered(segments);
  page.timeline.setGaps(segments);
  page.list = new EvidenceList(els.evidence, items, { seek, titleOf });
  describe(manifest);
  titlesRequest.then(() => {
    page.timeline.relabel();
    page.list.relabel();
    render();
  });

  if (!segments.length) {
    overlay('Nothing was recorded in this audit');
    els.timeline.dataset.empty = 'true';
    for (const control of [els.play, els.previous, els.next, els.speed]) control.disabled = true;
    render();
    return;
  }
  if (!SegmentSource.supports(segments[0].mime)) {
    overlay(`This browser cannot play the recording (${segments[0].mime}). Use a current Chrome, Edge or Firefox, or download the verifiable package.`);
    return;
  }
  render();
  await wirePlayer(manifest, segmentsOf(segments, camerasOf(segments)[0]));
}

els.retry.addEventListener('click', () => location.reload());
els.play.addEventListener('click', togglePlay);
for (const name of ['play', 'pause', 'ended']) els.video.addEventListener(name, showPlaying);
main();
