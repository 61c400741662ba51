// Console: ask the phone on the large view for a full-resolution photo of the current
// checkpoint, and say so until the photo arrives.

import { $ } from './dom.js';

// After this long without a photo, say that nothing came rather than wait for ever.
const PATIENCE_MS = 120_000;

export class PhotoRequest {
  /**
   * `send(message)` is false when not sent; `checkpoint()` is the current key or null;
   * `camera()` the camera on the large view (its phone is asked), or null.
   */
  constructor({ send, checkpoint, camera = () => null }) {
    this.send = send;
    this.checkpoint = checkpoint;
    this.camera = camera;
    this.blocker = '';
    this.pending = false;
    this.timer = 0;
    this.els = {
      button: $('#request-photo'),
      status: $('#photo-status'),
      text: $('#photo-status-text'),
      dismiss: $('#photo-status-close'),
    };
    this.els.button.addEventListener('click', () => this.request());
    this.els.dismiss.addEventListener('click', () => this.settle(''));
    this.render();
  }

  /** Photos need someone on the phone; `blocker` says why none can be asked for now. */
  setBlocker(blocker) {
    this.blocker = blocker;
    this.render();
  }

  request() {
    if (this.blocker) {
      this.say(this.blocker);
      return;
    }
    const checkpoint = this.checkpoint();
    const message = { type: 'photo-request', checkpoint };
    const camera = this.camera();
    if (camera) message.camera = camera;
    if (!this.send(message)) {
      this.say('Not connected to the server: the photo request was not sent.');
      return;
    }
    this.pending = true;
    this.say('Photo requested… the phone shows a prompt to take it.', { waiting: true });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.pending = false;
      this.say('No photo has arrived yet. Ask again, or ask the facility what they see on the phone.');
      this.render();
    }, PATIENCE_MS);
    this.render();
  }

  /** A `captured` item arrived; a photo ends the wait. */
  arrived(item) {
    if (!item || item.kind !== 'photo') return;
    const waited = this.pending;
    this.settle(waited ? 'Photo received.' : '');
    if (waited) this.timer = setTimeout(() => this.say(''), 3_000);
  }

  /** The phone answered "Not now": stop waiting at once and say so. */
  declined(message) {
    if (!this.pending) return;
    const who = message && message.from ? message.from : 'The facility';
    this.settle(`${who} declined the photo request (“Not now”). Ask again when they are ready.`);
  }

  /** Nobody is left on the phone side: the photo will not come. */
  phoneLeft() {
    if (!this.pending) return;
    this.settle('The phone left the session: the photo was not taken. Ask again once it is back.');
  }

  settle(text) {
    clearTimeout(this.timer);
    this.pending = false;
    this.say(text);
    this.render();
  }

  say(text, { waiting = false } = {}) {
    this.els.text.textContent = text;
    this.els.status.hidden = !text;
    this.els.status.dataset.waiting = String(waiting);
  }

  render() {
    const { button } = this.els;
    button.disabled = Boolean(this.blocker);
    button.title = this.blocker || 'Ask the phone for a full-resolution photo of this checkpoint (R)';
    button.setAttribute('aria-busy', String(this.pending));
  }
}
