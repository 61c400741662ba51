// Console: photo mode, per camera. The auditor pauses the video of the phone on the large
// view on a thin uplink (its audio goes on) and asks for full-resolution photos instead (R);
// switching back resumes the video. The other phone goes on streaming. The server tells the
// auditors and that phone, a phone that rejoins included (`photo-mode` with `camera`).

import { $, setPressed } from './dom.js';

export class PhotoModeControl {
  /**
   * `send(message)` is false when not sent; `blocker()` says why it cannot switch now, or '';
   * `camera()` is the camera on the large view, the one the button switches.
   */
  constructor({ send, blocker, camera = () => 1 }) {
    this.send = send;
    this.blocker = blocker;
    this.camera = camera;
    this.cameras = new Map(); // camera number in photo mode → who switched it (name or null)
    this.button = $('#photo-mode');
    this.label = $('#photo-mode-label');
    this.button.addEventListener('click', () => this.toggle());
  }

  /** Whether the camera on the large view is in photo mode. */
  get on() {
    return this.isOn(this.camera());
  }

  isOn(camera) {
    return this.cameras.has(camera);
  }

  toggle() {
    if (this.blocker()) return false;
    return this.send({ type: 'photo-mode', on: !this.on, camera: this.camera() });
  }

  /** A `photo-mode` message: one camera's state, and every camera now in photo mode. */
  update(message) {
    const camera = Number.isInteger(message.camera) ? message.camera : 1;
    if (message.on) this.cameras.set(camera, message.by || null);
    else this.cameras.delete(camera);
    if (Array.isArray(message.cameras)) {
      for (const number of [...this.cameras.keys()]) {
        if (!message.cameras.includes(number)) this.cameras.delete(number);
      }
      for (const number of message.cameras) if (!this.cameras.has(number)) this.cameras.set(number, null);
    }
    this.render();
  }

  /** A new session (welcome): off until the server says otherwise. */
  reset() {
    this.cameras.clear();
    this.render();
  }

  render() {
    const blocker = this.blocker();
    const on = this.on;
    setPressed(this.button, on);
    this.button.dataset.state = on ? 'on' : 'off';
    this.button.dataset.camera = String(this.camera());
    this.button.dataset.cameras = [...this.cameras.keys()].sort().join(' ');
    this.button.disabled = Boolean(blocker);
    this.label.textContent = on ? 'Resume video' : 'Photo mode';
    this.button.title = blocker || (on
      ? `Resume camera ${this.camera()}'s video (V)`
      : `Pause camera ${this.camera()}'s video to spare a thin uplink; its audio goes on, ask for photos with R (V)`);
  }
}
