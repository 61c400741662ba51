// The Capture button of the auditor console: asks the server to keep what the facility
// camera shows now as evidence of the current checkpoint, shows the requests in flight and
// says why one failed.

import { $ } from './dom.js';

// The server answers within about a second; after this long, no answer is coming.
const ANSWER_MS = 20_000;

/** A random UUID, also on plain-HTTP pages, where crypto.randomUUID does not exist. */
export function requestId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The server's reason as one sentence, without a second "capture failed" in front. */
export function failureText(reason) {
  const text = String(reason || 'the server gave no reason').trim().replace(/^capture failed:\s*/i, '');
  return `Capture failed: ${text}`;
}

export class CaptureControl {
  /**
   * `send(message)` returns false when the message could not be sent; `checkpoint()` is the
   * key of the checkpoint a capture belongs to (the current one), or null; `camera()` the
   * number of the camera on the large view (the one captured), or null.
   */
  constructor(send, checkpoint = () => null, camera = () => null) {
    this.send = send;
    this.checkpoint = checkpoint;
    this.camera = camera;
    this.pending = new Map(); // request_id → timer that gives up waiting for the answer
    this.available = false;
    this.blocker = '';
    this.errorIsBlocker = false;
    this.els = {
      button: $('#capture'),
      label: $('#capture .capture-label'),
      error: $('#capture-error'),
      errorText: $('#capture-error-text'),
      dismiss: $('#capture-error-close'),
    };
    this.els.button.addEventListener('click', () => this.request());
    this.els.dismiss.addEventListener('click', () => this.showError(''));
    this.render();
  }

  /** Captures need a live facility camera; `blocker` says why they cannot be taken now. */
  setAvailable(available, blocker = '') {
    this.available = available;
    this.blocker = blocker;
    if (available && this.errorIsBlocker) this.showError('');
    this.render();
  }

  request(checkpoint = this.checkpoint()) {
    if (!this.available) {
      this.showError(this.blocker, { blocker: true });
      return;
    }
    const id = requestId();
    const message = { type: 'capture', request_id: id, checkpoint };
    const camera = this.camera();
    if (camera) message.camera = camera;
    if (!this.send(message)) {
      this.showError('Capture failed: not connected to the server. Try again once the connection is back.');
      return;
    }
    this.showError('');
    const timer = setTimeout(() => {
      this.settle(id, 'Capture failed: the server did not answer. Press C to try again.');
    }, ANSWER_MS);
    this.pending.set(id, timer);
    this.render();
  }

  /** An `evidence` message: the picture is stored. */
  succeeded(id) {
    this.settle(id);
  }

  /** A `capture_failed` error. */
  failed(message) {
    this.settle(message.request_id, failureText(message.message));
  }

  /** The socket closed: answers to the requests in flight will not come. */
  abandon() {
    if (this.pending.size === 0) return;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.showError('The connection was lost during a capture. Once it is back, check the captures below and capture again if one is missing.');
    this.render();
  }

  settle(id, error = '') {
    clearTimeout(this.pending.get(id));
    this.pending.delete(id);
    if (error) this.showError(error);
    this.render();
  }

  showError(text, { blocker = false } = {}) {
    this.errorIsBlocker = Boolean(text) && blocker;
    this.els.errorText.textContent = text;
    this.els.error.hidden = !text;
  }

  render() {
    const { button, label } = this.els;
    const inFlight = this.pending.size;
    button.disabled = !this.available;
    button.title = this.available ? 'Capture what the camera shows now (C)' : this.blocker;
    button.setAttribute('aria-busy', String(inFlight > 0));
    button.dataset.busy = String(inFlight > 0);
    let text = 'Capture';
    if (inFlight === 1) text = 'Capturing…';
    else if (inFlight > 1) text = `Capturing ${inFlight}…`;
    label.textContent = text;
  }
}
