// The recording as one timeline for a <video>: Media Source Extensions fed segment by
// segment, each complete WebM (or fragmented MP4) file placed at its offset from the start
// of the audit. Only what is near the playhead is fetched and kept, so a long audit starts
// as fast as a short one and memory stays bounded. Each WebM file is checked against the
// SHA-256 the server recorded for it before it is played.

import { fillAudioGaps } from './webm-gaps.js';

const AHEAD_S = 30; // keep this much buffered after the playhead
const BEHIND_S = 20; // and this much before it, for short jumps back
const NEAR_END_S = 0.3; // this little data ahead, and none coming, ends what plays there
const WATCH_MS = 250;
// A seek that has not landed after STUCK_MS, close (under NEAR_END_S) to the end of what is
// buffered, with a hole after it, was seen never to land (at 1 µs, 0.5 ms and 80 ms before
// that end). It is moved on to the next data, or back onto data well before the end.
const STUCK_MS = 1_000;
// Where the playhead is moved to land at `t`, it goes to `t + INSIDE_S`: a media time reads
// back up to 1 µs early (Chromium keeps whole microseconds, truncated), and at a segment's
// very offset that early reading falls in the gap before it, so the move would repeat forever.
const INSIDE_S = 0.001;

/** Resolve when the SourceBuffer has finished its current append or removal. */
function settled(buffer) {
  return new Promise((resolve, reject) => {
    const done = () => { buffer.removeEventListener('error', failed); resolve(); };
    const failed = () => { buffer.removeEventListener('updateend', done); reject(new Error('the browser could not decode this part of the recording')); };
    buffer.addEventListener('updateend', done, { once: true });
    buffer.addEventListener('error', failed, { once: true });
  });
}

function end(segment) {
  return segment.offset + segment.duration;
}

function isAbort(error) {
  return error && error.name === 'AbortError';
}

async function sha256Hex(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Feeds `segments` (the replay manifest's, sorted by offset) into `video`.
 * Events: `buffered` (segments were appended or evicted: what is buffered changed),
 * `checked` (detail {segment, matches}: a WebM file was hashed in the browser),
 * `skipped` (detail {segment, error}: a segment could not be fetched or appended),
 * `fatal` (detail: Error; nothing more can be played).
 */
export class SegmentSource extends EventTarget {
  /**
   * `landWithin`: how far a seek that has no frame at its time may be moved on to the next data
   * (see landSeek); a video that keeps to another player's clock (a second camera) gives its
   * drift tolerance, or the two would pull the playhead back and forth.
   */
  constructor(video, segments, duration, { landWithin = Infinity } = {}) {
    super();
    this.video = video;
    this.landWithin = landWithin;
    this.segments = [...segments].sort((a, b) => a.offset - b.offset);
    this.duration = duration;
    this.appended = new Set(); // seq of segments whose whole span is buffered
    this.failed = new Set(); // seq of segments that could not be loaded: treated as gaps
    this.checked = new Map(); // seq → whether the file matched its recorded SHA-256
    this.mime = null;
    this.buffer = null;
    this.pumping = false;
    this.again = false;
    this.inflight = null; // {seq, controller} while a segment downloads
    this.target = null; // where the playhead goes once its segment is in
    this.seekAt = 0; // performance.now() of the latest seek
    this.mediaSource = new MediaSource();
    this.opened = new Promise((resolve) => {
      this.mediaSource.addEventListener('sourceopen', resolve, { once: true });
    });
    video.src = URL.createObjectURL(this.mediaSource);
    video.addEventListener('seeking', () => this.onSeeking());
    video.addEventListener('timeupdate', () => this.pump());
    video.addEventListener('waiting', () => this.skipGap());
    this.watch = setInterval(() => this.stallCheck(), WATCH_MS);
  }

  /** True when this browser can play the first segment's container and codecs. */
  static supports(mime) {
    return typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(mime);
  }

  /** Open the source, place the playhead at `startAt` and start fetching. */
  async start(startAt = 0) {
    await this.opened;
    const first = this.segments[0];
    this.mime = first.mime;
    this.buffer = this.mediaSource.addSourceBuffer(first.mime);
    this.buffer.mode = 'segments';
    if (Number.isFinite(this.duration) && this.duration > 0) this.mediaSource.duration = this.duration;
    this.target = this.playable(startAt);
    this.pump();
  }

  /** Index of the segment whose span holds `t`, or -1 when `t` is in a gap. */
  indexAt(t) {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid].offset <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return -1;
    return t < end(this.segments[found]) && !this.failed.has(this.segments[found].seq) ? found : -1;
  }

  /** The first loadable segment that starts after `t`, or null. */
  nextAfter(t) {
    return this.segments.find((s) => s.offset > t && !this.failed.has(s.seq)) || null;
  }

  /** `t`, or where playback can resume when `t` falls between segments. */
  playable(t) {
    if (this.indexAt(t) >= 0) return t;
    const next = this.nextAfter(t);
    return next ? next.offset + INSIDE_S : t;
  }

  /** Where the playhead is, or is about to be after a seek that is still loading. */
  get position() {
    return this.target ?? this.video.currentTime;
  }

  /** The next segment to fetch: the one under the playhead first, then the next ~30 s. */
  wanted() {
    const t = this.position;
    let i = this.indexAt(t);
    if (i < 0) {
      const next = this.nextAfter(t);
      if (!next) return null;
      i = this.segments.indexOf(next);
    }
    for (; i < this.segments.length && this.segments[i].offset < t + AHEAD_S; i++) {
      const segment = this.segments[i];
      if (!this.appended.has(segment.seq) && !this.failed.has(segment.seq)) return segment;
    }
    return null;
  }

  /** Fetch and append what the playhead needs next; one caller at a time, others rerun it. */
  async pump() {
    if (!this.buffer) return;
    if (this.pumping) { this.again = true; return; }
    this.pumping = true;
    try {
      let segment;
      do {
        this.again = false;
        segment = this.wanted();
        if (segment) await this.load(segment);
      } while (segment || this.again);
      this.finishIfComplete();
    } catch (error) {
      this.dispatchEvent(new CustomEvent('fatal', { detail: error }));
    } finally {
      this.pumping = false;
    }
  }

  async load(segment) {
    const controller = new AbortController();
    this.inflight = { seq: segment.seq, controller };
    let bytes;
    try {
      const response = await fetch(segment.url, { credentials: 'same-origin', signal: controller.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      bytes = await response.arrayBuffer();
    } catch (error) {
      if (isAbort(error)) return;
      this.skip(segment, error);
      return;
    } finally {
      this.inflight = null;
    }
    if (segment.mime.startsWith('video/webm')) {
      await this.check(segment, bytes);
      bytes = fillAudioGaps(bytes);
    }
    await this.trim();
    await this.append(segment, bytes);
  }

  /** Hash a WebM file as served (the stored file itself; MP4 is a remux, so not comparable). */
  async check(segment, bytes) {
    if (!globalThis.crypto || !crypto.subtle || this.checked.has(segment.seq)) return;
    const matches = (await sha256Hex(bytes)) === segment.sha256;
    this.checked.set(segment.seq, matches);
    this.dispatchEvent(new CustomEvent('checked', { detail: { segment, matches } }));
  }

  async append(segment, bytes) {
    const buffer = this.buffer;
    if (segment.mime !== this.mime && typeof buffer.changeType === 'function') {
      buffer.changeType(segment.mime);
      this.mime = segment.mime;
    }
    this.place(segment.offset);
    try {
      buffer.appendBuffer(bytes);
    } catch (error) {
      if (error.name !== 'QuotaExceededError') throw error;
      await this.trim(true);
      this.place(segment.offset);
      try {
        buffer.appendBuffer(bytes);
      } catch (again) {
        if (again.name !== 'QuotaExceededError') throw again;
        this.skip(segment, new Error('the browser has no room to buffer it'));
        return;
      }
    }
    try {
      await settled(buffer);
    } catch (error) {
      if (this.video.error) throw error;
      this.skip(segment, error);
      return;
    }
    this.appended.add(segment.seq);
    this.dispatchEvent(new Event('buffered'));
    if (this.target !== null && this.indexAt(this.target) === this.segments.indexOf(segment)) this.goToTarget();
  }

  /**
   * Move the playhead to `target`, its segment being in. Not before the element has its
   * metadata: a time set before that is only a start position, which a loaded machine's
   * Chromium was seen to drop (the replay stayed at 0 with its segment buffered).
   */
  goToTarget() {
    const target = this.target;
    if (this.video.readyState === HTMLMediaElement.HAVE_NOTHING) {
      this.video.addEventListener('loadedmetadata', () => {
        if (this.target === target) this.goToTarget();
      }, { once: true });
      return;
    }
    this.target = null;
    if (target > 0) this.video.currentTime = target;
  }

  /** Put the next appended file at `offset`: each file's own timestamps start at zero. */
  place(offset) {
    try {
      // Also moves an ended MediaSource back to open, as appending will.
      this.buffer.timestampOffset = offset;
    } catch {
      // Still inside the previous file's media segment: reset the parser, then place.
      this.buffer.abort();
      this.buffer.timestampOffset = offset;
    }
  }

  skip(segment, error) {
    this.failed.add(segment.seq);
    this.dispatchEvent(new CustomEvent('skipped', { detail: { segment, error } }));
  }

  /** Remove whole segments far from the playhead; `hard` keeps only the one under it. */
  async trim(hard = false) {
    const t = this.position;
    const before = hard ? 1 : BEHIND_S;
    const after = hard ? 0 : AHEAD_S + 10;
    const far = this.segments.filter((s) => this.appended.has(s.seq) && (end(s) < t - before || s.offset > t + after));
    for (const segment of far) {
      const i = this.segments.indexOf(segment);
      const next = this.segments[i + 1];
      const until = next ? Math.min(next.offset, end(segment) + 1) : end(segment) + 1;
      this.appended.delete(segment.seq);
      if (this.buffer.updating) await settled(this.buffer);
      this.buffer.remove(segment.offset, until);
      await settled(this.buffer);
    }
    if (far.length) this.dispatchEvent(new Event('buffered'));
  }

  /** Once the last segment is in, say so: playback then ends there instead of waiting. */
  finishIfComplete() {
    const last = this.segments[this.segments.length - 1];
    if (!last || !this.appended.has(last.seq)) return;
    if (this.mediaSource.readyState === 'open' && !this.buffer.updating) this.mediaSource.endOfStream();
  }

  onSeeking() {
    this.seekAt = performance.now();
    this.target = null; // a seek of the viewer's own replaces where playback was to start
    const t = this.video.currentTime;
    const resume = this.playable(t);
    if (resume !== t && resume - t <= this.landWithin) {
      this.video.currentTime = resume; // between segments: the phone was not sending
      return;
    }
    const inflight = this.inflight;
    if (inflight) {
      const i = this.segments.findIndex((s) => s.seq === inflight.seq);
      const s = this.segments[i];
      if (s && (end(s) < t || s.offset > t + AHEAD_S)) inflight.controller.abort();
    }
    this.pump();
  }

  /** The playhead ran out of data that will ever arrive: move it to where there is some. */
  skipGap() {
    const video = this.video;
    const t = video.currentTime;
    const i = this.indexAt(t);
    if (i >= 0 && !this.appended.has(this.segments[i].seq)) return; // still loading: wait
    const ranges = video.buffered;
    let next = null;
    for (let r = 0; r < ranges.length; r++) {
      if (ranges.start(r) <= t && ranges.end(r) - t > NEAR_END_S) return; // data ahead: only slow
      if (ranges.start(r) > t) { next = ranges.start(r); break; }
    }
    const segment = this.nextAfter(t);
    if (segment && (next === null || segment.offset < next)) next = segment.offset;
    if (next !== null) video.currentTime = next + INSIDE_S;
  }

  stallCheck() {
    const video = this.video;
    if (video.seeking) this.landSeek();
    else if (!video.paused && video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) this.skipGap();
  }

  /**
   * A seek whose segment is in but which has no frame at its time never lands (a file's media
   * can start a little after its segment's offset, or pause inside it): move it on to the first
   * data after it (if that is within `landWithin`). A seek still loading, or still to be placed
   * (`target`), is left alone, and so is one with data under it, however slowly it lands.
   */
  landSeek() {
    if (this.target !== null) return;
    const t = this.video.currentTime;
    const i = this.indexAt(t);
    if (i < 0 || !this.appended.has(this.segments[i].seq) || this.buffer.updating) return;
    const stuck = performance.now() - this.seekAt >= STUCK_MS;
    const ranges = this.video.buffered;
    let edge = null; // a range t sits near the end of
    for (let r = 0; r < ranges.length; r++) {
      if (ranges.end(r) <= t) continue;
      if (stuck && ranges.start(r) <= t && ranges.end(r) - t < NEAR_END_S) {
        edge = r;
        continue;
      }
      const next = ranges.start(r);
      if (next > t && next - t <= this.landWithin) {
        this.video.currentTime = next + INSIDE_S;
        return;
      }
      if (edge === null) return; // data under t: it lands, however slowly
      break;
    }
    if (edge !== null) this.video.currentTime = Math.max(ranges.start(edge), ranges.end(edge) - 2 * NEAR_END_S);
  }
}
