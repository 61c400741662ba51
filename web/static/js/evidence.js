// Evidence strip of the auditor console: the audit's captures and the phone's photos as
// thumbnails, newest first, each opening a larger view with its time, size, SHA-256 and
// sharpness, labelled with the checkpoint it belongs to.

import { Annotator } from './annotate.js';
import { $, api, element, isTyping } from './dom.js';

const PAGE_SIZE = 500;
const ARRIVAL_MS = 1_600;

const timeOfDay = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dayAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
const fullDateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const integer = new Intl.NumberFormat();
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function parseTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Local time with seconds; with the date as well when it is not today. */
export function shortTime(iso) {
  const date = parseTime(iso);
  if (!date) return '';
  const today = date.toDateString() === new Date().toDateString();
  return (today ? timeOfDay : dayAndTime).format(date);
}

/** A byte count the way people read it: "184 KB (188,416 bytes)". */
export function byteSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${integer.format(bytes)} bytes`;
  const kb = bytes / 1024;
  const rounded = kb < 1024 ? `${decimal.format(kb)} KB` : `${decimal.format(kb / 1024)} MB`;
  return `${rounded} (${integer.format(bytes)} bytes)`;
}

/** Newest first: by the audit's evidence sequence, then by time. */
function newestFirst(a, b) {
  return (b.seq ?? 0) - (a.seq ?? 0) || String(b.captured_at).localeCompare(String(a.captured_at));
}

const KIND_LABELS = { capture: 'Capture', photo: 'Photo' };

function kindLabel(item) {
  return KIND_LABELS[item.kind] || 'Capture';
}

function thumbnail(item, open, titleOf) {
  const node = element('li', 'evidence-item');
  node.dataset.testid = 'evidence-item';
  node.dataset.id = item.id;
  node.dataset.sha256 = item.sha256;
  node.dataset.kind = item.kind || 'capture';
  if (item.checkpoint) node.dataset.checkpoint = item.checkpoint;

  const button = element('button', 'evidence-thumb');
  button.type = 'button';
  button.addEventListener('click', open);
  const image = element('img');
  image.loading = 'lazy';
  image.decoding = 'async';
  image.alt = '';
  image.src = item.image_url;

  const meta = element('span', 'evidence-meta');
  const time = element('time', 'evidence-time', shortTime(item.captured_at));
  time.dateTime = item.captured_at;
  time.title = item.captured_at;
  meta.append(time);
  if (item.checkpoint) meta.append(element('span', 'evidence-checkpoint'));
  if (item.camera) {
    const camera = element('span', 'evidence-camera', `Camera ${item.camera}`);
    camera.dataset.testid = 'evidence-camera';
    meta.append(camera);
    node.dataset.camera = String(item.camera);
  }
  button.append(image, meta);
  if (item.kind === 'photo') {
    const badge = element('span', 'evidence-badge', 'Photo');
    badge.dataset.testid = 'photo-badge';
    button.append(badge);
  }
  node.append(button);
  label(node, item, titleOf);
  return node;
}

/** The checkpoint's title on a thumbnail (known once the checkpoints have loaded). */
function label(node, item, titleOf) {
  const title = item.checkpoint ? titleOf(item.checkpoint) : '';
  const checkpoint = node.querySelector('.evidence-checkpoint');
  if (checkpoint) {
    checkpoint.textContent = title;
    checkpoint.title = title;
  }
  const words = [`${kindLabel(item)} at ${shortTime(item.captured_at)}`, title, 'enlarge'].filter(Boolean);
  node.querySelector('button').setAttribute('aria-label', words.join(', '));
}

/** The thumbnails below the video, kept in step with the server's list of captures. */
export class EvidenceStrip {
  /** `titleOf(key)` names a checkpoint; `mayAnnotate()` whether drawing on captures is allowed now. */
  constructor(auditId, titleOf = (key) => key, mayAnnotate = () => false) {
    const base = `/api/audits/${encodeURIComponent(auditId)}/evidence?limit=${PAGE_SIZE}`;
    this.urls = ['capture', 'photo'].map((kind) => `${base}&kind=${kind}`);
    this.titleOf = titleOf;
    this.items = new Map();
    this.nodes = new Map();
    this.loading = null;
    this.els = {
      strip: $('#evidence-strip'),
      empty: $('#evidence-empty'),
      count: $('#evidence-count'),
      hint: $('#evidence-hint'),
      status: $('#evidence-status'),
      loadError: $('#evidence-load-error'),
      loadErrorText: $('#evidence-load-error-text'),
      retry: $('#evidence-retry'),
    };
    this.viewer = new EvidenceViewer(this, mayAnnotate);
    this.els.retry.addEventListener('click', () => this.load());
    this.render();
  }

  ordered() {
    return [...this.items.values()].sort(newestFirst);
  }

  /** Show a capture unless it is shown already; `fresh` ones are highlighted and announced. */
  add(item, { fresh = false } = {}) {
    if (!item || !item.id || this.items.has(item.id)) return false;
    this.items.set(item.id, item);
    const node = thumbnail(item, () => this.viewer.open(item.id), this.titleOf);
    this.nodes.set(item.id, node);
    const ordered = this.ordered();
    const index = ordered.indexOf(item);
    const after = ordered[index + 1];
    this.els.strip.insertBefore(node, after ? this.nodes.get(after.id) : null);
    if (fresh) {
      node.classList.add('is-new');
      setTimeout(() => node.classList.remove('is-new'), ARRIVAL_MS);
      this.els.status.textContent = `${kindLabel(item)} at ${shortTime(item.captured_at)}`;
      if (index === 0) this.els.strip.scrollTo({ left: 0, behavior: 'smooth' });
    }
    this.render();
    this.viewer.refresh();
    return true;
  }

  /** The audit was completed: the drawing tools go, saved annotations stay shown. */
  setReadOnly() {
    this.viewer.annotator.choose(null);
    this.viewer.annotator.renderButtons();
  }

  /** Checkpoint titles changed (or arrived): label every thumbnail again. */
  relabel() {
    for (const [id, node] of this.nodes) label(node, this.items.get(id), this.titleOf);
    this.viewer.refresh();
  }

  render() {
    const count = this.items.size;
    this.els.count.textContent = String(count);
    this.els.strip.hidden = count === 0;
    this.els.empty.hidden = count > 0;
    this.els.hint.hidden = count === 0;
    // Name the camera on thumbnails only once the audit has had a second one.
    const cameras = [...this.items.values()].some((item) => (item.camera || 1) > 1);
    this.els.strip.classList.toggle('multi-camera', cameras);
  }

  /** Fetch every capture of the audit (again); what is shown already stays. */
  load() {
    if (!this.loading) this.loading = this.fetchAll().finally(() => { this.loading = null; });
    return this.loading;
  }

  async fetchAll() {
    try {
      for (const base of this.urls) {
        let cursor = null;
        do {
          const url = cursor === null ? base : `${base}&cursor=${encodeURIComponent(cursor)}`;
          const page = await api(url);
          for (const item of (page && page.items) || []) this.add(item);
          cursor = page && page.next;
        } while (cursor);
      }
      this.showLoadError(null);
    } catch (error) {
      this.showLoadError(error);
    }
  }

  showLoadError(error) {
    this.els.loadErrorText.textContent = error ? `Earlier captures could not be loaded: ${error.message}` : '';
    this.els.loadError.hidden = !error;
  }
}

/** The enlarged view of one capture, a modal <dialog>; ← and → step through the strip. */
class EvidenceViewer {
  constructor(strip, mayAnnotate) {
    this.strip = strip;
    this.currentId = null;
    const id = (name) => $(`#evidence-dialog-${name}`);
    this.els = {
      dialog: $('#evidence-dialog'),
      heading: $('#evidence-dialog-heading'),
      image: id('image'),
      open: id('open'),
      time: id('time'),
      utc: id('utc'),
      checkpointRow: id('checkpoint-row'),
      checkpoint: id('checkpoint'),
      size: id('size'),
      sha256: id('sha256'),
      sharpness: id('sharpness'),
      sharpnessRow: id('sharpness-row'),
      download: id('download'),
      newer: $('#evidence-newer'),
      older: $('#evidence-older'),
    };
    this.els.newer.addEventListener('click', () => this.step(-1));
    this.els.older.addEventListener('click', () => this.step(1));
    this.els.dialog.addEventListener('keydown', (event) => this.onKey(event));
    this.annotator = new Annotator({
      svg: $('#evidence-annotations'),
      image: this.els.image,
      tools: $('#annotate-tools'),
      buttons: {
        arrow: $('#annotate-arrow'), rect: $('#annotate-box'), text: $('#annotate-text'),
        save: $('#annotate-save'), clear: $('#annotate-clear'),
      },
      textField: $('#annotate-text-field'),
      textInput: $('#annotate-text-input'),
      status: $('#annotate-status'),
    }, { mayAnnotate });
    this.els.dialog.addEventListener('close', () => {
      this.currentId = null;
      this.annotator.reset();
    });
  }

  get isOpen() {
    return this.els.dialog.open;
  }

  open(id) {
    if (!this.strip.items.has(id)) return;
    this.currentId = id;
    this.refresh();
    if (!this.isOpen) this.els.dialog.showModal();
  }

  step(delta) {
    const ordered = this.strip.ordered();
    const next = ordered[ordered.findIndex((item) => item.id === this.currentId) + delta];
    if (next) this.open(next.id);
  }

  onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event)) return;
    if (event.key === 'ArrowLeft') this.step(-1);
    else if (event.key === 'ArrowRight') this.step(1);
    else return;
    event.preventDefault();
  }

  /** Draw the current capture; also after new ones arrived, which renumbers it. */
  refresh() {
    const item = this.currentId && this.strip.items.get(this.currentId);
    if (!item) return;
    const els = this.els;
    const ordered = this.strip.ordered();
    const index = ordered.indexOf(item);
    const date = parseTime(item.captured_at);
    els.heading.textContent = `${kindLabel(item)} · ${ordered.length - index} of ${ordered.length}`;
    if (els.image.getAttribute('src') !== item.image_url) {
      // Known proportions keep the dialog from jumping while the picture loads.
      for (const side of ['width', 'height']) {
        if (item.width && item.height) els.image.setAttribute(side, item[side]);
        else els.image.removeAttribute(side);
      }
      els.image.src = item.image_url;
    }
    els.image.alt = `${kindLabel(item)} at ${shortTime(item.captured_at)}`;
    els.open.href = item.image_url;
    els.download.href = item.image_url;
    els.download.download = `${item.kind || 'capture'}-${String(item.captured_at).replace(/[:.]/g, '-')}.jpg`;
    els.time.dateTime = item.captured_at;
    els.time.textContent = date ? fullDateTime.format(date) : '';
    els.utc.textContent = `${item.captured_at} (UTC)`;
    els.checkpointRow.hidden = !item.checkpoint;
    els.checkpoint.textContent = item.checkpoint ? this.strip.titleOf(item.checkpoint) : '';
    const pixels = item.width && item.height ? `${item.width} × ${item.height} px · ` : '';
    els.size.textContent = `${pixels}${byteSize(item.size)}`;
    els.sha256.textContent = item.sha256;
    els.sharpness.textContent = Number.isFinite(item.sharpness) ? decimal.format(item.sharpness) : '—';
    // A photo is the phone's own picture: no frame was chosen for sharpness.
    els.sharpnessRow.hidden = item.kind === 'photo';
    this.annotator.show(item);
    els.newer.disabled = index <= 0;
    els.older.disabled = index >= ordered.length - 1;
  }
}
