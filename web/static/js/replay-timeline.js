// The replay's timeline: the whole recording from start to end, what is buffered, the
// playhead, a flag wherever the auditor moved to a checkpoint, a tick for each capture
// or photo, a hatched mark over each segment recovered after an unclean stop, and a
// marked gap, with its length, wherever the recording has no video. Clicking or dragging anywhere seeks there; a flag or tick seeks to its moment.

import { element } from './dom.js';

const KIND_LABELS = { capture: 'Capture', photo: 'Photo', still: 'Still' };
const FLAG_PX = 18; // flags closer than this on screen are shown as one, with a count
const GAP_MIN_S = 1; // a shorter hole between two segments is no gap worth marking

/** Seconds as "4:05" or "1:02:09". */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function kindLabel(kind) {
  return KIND_LABELS[kind] || 'Capture';
}

/** What a reviewer is told about a recovered segment. */
export function recoveredText(segment) {
  const r = segment.recovered;
  return `Segment ${segment.seq} (${clock(segment.offset)}–${clock(segment.offset + segment.duration)}) `
    + `was recovered after an unclean stop at ${r.stopped_at}: ${r.video_frames_kept} video frames kept, `
    + `the ${r.video_frames_lost} after them did not reach the disk. The hatched mark on the timeline shows it.`;
}

/** What a reviewer is told about a stretch without video. */
export function gapText(from, to) {
  return `No video for ${Math.round(to - from)} s (${clock(from)}–${clock(to)}): `
    + 'the facility\'s connection was lost or its camera was not connected. Playback skips it.';
}

export class Timeline {
  /**
   * `root` is the empty timeline element; `seek(t)` moves the video; `titleOf(key)` names
   * a checkpoint; `stillAt(t)` is the still nearest a time, for the hover preview.
   */
  constructor(root, { duration, seek, titleOf, stillAt }) {
    this.root = root;
    this.duration = Math.max(duration || 0, 0.001);
    this.seek = seek;
    this.titleOf = titleOf;
    this.stillAt = stillAt;
    this.markers = [];
    this.build();
  }

  build() {
    const root = this.root;
    this.flags = element('div', 'timeline-flags');
    this.track = element('div', 'timeline-track');
    this.track.setAttribute('role', 'slider');
    this.track.tabIndex = -1;
    this.track.setAttribute('aria-label', 'Position in the recording');
    this.track.setAttribute('aria-valuemin', '0');
    this.track.setAttribute('aria-valuemax', String(Math.round(this.duration)));
    this.bands = element('div', 'timeline-bands');
    this.played = element('div', 'timeline-played');
    this.head = element('div', 'timeline-head');
    this.head.dataset.testid = 'playhead';
    this.recovered = element('div', 'timeline-recovered-layer');
    this.gaps = element('div', 'timeline-gap-layer');
    this.track.append(this.bands, this.played, this.recovered, this.gaps, this.head);
    this.ticks = element('div', 'timeline-ticks');
    this.preview = element('div', 'timeline-preview');
    this.previewImage = element('img');
    this.previewImage.alt = '';
    this.previewTime = element('span', 'timeline-preview-time');
    this.preview.append(this.previewImage, this.previewTime);
    this.preview.hidden = true;
    root.append(this.flags, this.track, this.ticks, this.preview);
    root.addEventListener('pointerdown', (event) => this.onPointerDown(event));
    root.addEventListener('pointermove', (event) => this.onPointerMove(event));
    root.addEventListener('pointerleave', () => { this.preview.hidden = true; });
    new ResizeObserver(() => this.stack()).observe(this.track);
  }

  fraction(t) {
    return Math.min(Math.max(t / this.duration, 0), 1);
  }

  place(node, t) {
    node.style.left = `${(this.fraction(t) * 100).toFixed(3)}%`;
  }

  /** The checkpoint flags: `events` are the manifest's {key, at, offset}, in order. */
  setCheckpoints(events) {
    this.markers = events.map((event, i) => {
      const marker = element('button', 'timeline-flag');
      marker.type = 'button';
      marker.dataset.testid = 'checkpoint-marker';
      marker.dataset.key = event.key;
      marker.dataset.offset = String(event.offset);
      marker.append(element('span', 'timeline-flag-label'), element('span', 'timeline-flag-count'));
      this.place(marker, event.offset);
      marker.addEventListener('click', () => this.seek(Math.max(event.offset, 0)));
      marker.style.zIndex = String(i + 1);
      return marker;
    });
    this.flags.replaceChildren(...this.markers);
    this.stack();
  }

  /**
   * Flags closer than FLAG_PX on screen would cover each other: they become one flag with
   * a count, which seeks to the first of them and names them all; the others are hidden.
   */
  stack() {
    const gap = (FLAG_PX / Math.max(this.track.clientWidth, 1)) * this.duration;
    this.clusters = [];
    for (const marker of this.markers) {
      const t = Number(marker.dataset.offset);
      const last = this.clusters[this.clusters.length - 1];
      if (last && t - Number(last[0].dataset.offset) < gap) last.push(marker);
      else this.clusters.push([marker]);
    }
    for (const cluster of this.clusters) {
      cluster.forEach((marker, i) => { marker.hidden = i > 0; });
      const head = cluster[0];
      head.dataset.count = String(cluster.length);
      head.querySelector('.timeline-flag-count').textContent = cluster.length > 1 ? String(cluster.length) : '';
    }
    this.relabel();
  }

  /** Checkpoint titles arrived (or changed): name every flag again. */
  relabel() {
    for (const cluster of this.clusters || []) {
      const head = cluster[0];
      const at = clock(Number(head.dataset.offset));
      const titles = cluster.map((marker) => this.titleOf(marker.dataset.key));
      const text = cluster.length > 1 ? `${cluster.length} checkpoints: ${titles.join(', ')}` : titles[0];
      head.querySelector('.timeline-flag-label').textContent = text;
      head.setAttribute('aria-label', `${cluster.length > 1 ? '' : 'Checkpoint '}${text} at ${at}`);
      head.title = `${text} · ${at}`;
    }
  }

  /** Mark the segments recovered after an unclean stop (the manifest's `recovered`). */
  setRecovered(segments) {
    const marks = segments.filter((segment) => segment.recovered).map((segment) => {
      const mark = element('span', 'timeline-recovered');
      mark.dataset.testid = 'recovered-segment';
      mark.dataset.seq = String(segment.seq);
      mark.title = recoveredText(segment);
      this.place(mark, segment.offset);
      mark.style.width = `${((this.fraction(segment.offset + segment.duration) - this.fraction(segment.offset)) * 100).toFixed(3)}%`;
      return mark;
    });
    this.recovered.replaceChildren(...marks);
  }

  /**
   * Mark each stretch without video between two segments (the facility's link dropped, or
   * its phone left and came back) with its length: a gap is shown as a gap, never as a
   * frozen picture. Gaps under GAP_MIN_S are the joins of consecutive segments.
   */
  setGaps(segments) {
    const sorted = [...segments].sort((a, b) => a.offset - b.offset);
    const marks = [];
    for (let i = 1; i < sorted.length; i++) {
      const from = sorted[i - 1].offset + sorted[i - 1].duration;
      const to = sorted[i].offset;
      if (to - from < GAP_MIN_S) continue;
      const mark = element('span', 'timeline-gap');
      mark.dataset.testid = 'recording-gap';
      mark.dataset.offset = String(from);
      mark.dataset.duration = String(Math.round(to - from));
      const words = gapText(from, to);
      mark.title = words;
      mark.setAttribute('aria-label', words);
      mark.setAttribute('role', 'img');
      this.place(mark, from);
      mark.style.width = `${((this.fraction(to) - this.fraction(from)) * 100).toFixed(3)}%`;
      mark.append(element('span', 'timeline-gap-label'));
      mark.lastChild.textContent = `${Math.round(to - from)} s`;
      marks.push(mark);
    }
    this.gaps.replaceChildren(...marks);
  }

  /** One tick per capture or photo. */
  setEvidence(items) {
    const ticks = items.map((item) => {
      const tick = element('button', 'timeline-tick');
      tick.type = 'button';
      tick.dataset.testid = 'capture-tick';
      tick.dataset.id = item.id;
      tick.dataset.kind = item.kind;
      tick.dataset.offset = String(item.offset);
      const words = `${kindLabel(item.kind)} #${item.seq} at ${clock(item.offset)}`;
      tick.setAttribute('aria-label', words);
      tick.title = words;
      this.place(tick, item.offset);
      tick.addEventListener('click', () => this.seek(Math.max(item.offset, 0)));
      return tick;
    });
    this.ticks.replaceChildren(...ticks);
  }

  /** Move the playhead. */
  update(t) {
    const percent = `${(this.fraction(t) * 100).toFixed(3)}%`;
    this.head.style.left = percent;
    this.played.style.width = percent;
    this.track.setAttribute('aria-valuenow', String(Math.round(t)));
    this.track.setAttribute('aria-valuetext', clock(t));
  }

  /** Shade what the video has buffered (a TimeRanges). */
  showBuffered(ranges) {
    const bands = [];
    for (let i = 0; i < ranges.length; i++) {
      const band = element('span', 'timeline-band');
      const from = this.fraction(ranges.start(i));
      band.style.left = `${(from * 100).toFixed(3)}%`;
      band.style.width = `${((this.fraction(ranges.end(i)) - from) * 100).toFixed(3)}%`;
      bands.push(band);
    }
    this.bands.replaceChildren(...bands);
  }

  timeAt(clientX) {
    const rect = this.track.getBoundingClientRect();
    return this.fraction((clientX - rect.left) / rect.width * this.duration) * this.duration;
  }

  onPointerDown(event) {
    if (event.button !== 0 || event.target.closest('button')) return;
    event.preventDefault();
    this.root.setPointerCapture(event.pointerId);
    this.dragging = event.pointerId;
    this.seek(this.timeAt(event.clientX));
    const release = () => { this.dragging = null; };
    this.root.addEventListener('pointerup', release, { once: true });
    this.root.addEventListener('pointercancel', release, { once: true });
  }

  onPointerMove(event) {
    const t = this.timeAt(event.clientX);
    if (this.dragging === event.pointerId) {
      if (!this.frame) {
        this.frame = requestAnimationFrame(() => { this.frame = 0; this.seek(this.pendingSeek); });
      }
      this.pendingSeek = t;
    }
    this.showPreview(t, event);
  }

  /** The still nearest the pointer and its time, above the track. */
  showPreview(t, event) {
    if (event.target.closest('button')) { this.preview.hidden = true; return; }
    const still = this.stillAt(t);
    this.previewTime.textContent = clock(t);
    this.previewImage.hidden = !still;
    if (still && this.previewImage.getAttribute('src') !== still.image_url) this.previewImage.src = still.image_url;
    const rect = this.root.getBoundingClientRect();
    const x = Math.min(Math.max(event.clientX - rect.left, 70), rect.width - 70);
    this.preview.style.left = `${x}px`;
    this.preview.hidden = false;
  }
}
