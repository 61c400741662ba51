// Several facility cameras on the console: the server sends camera n on the n-th video track
// of the auditor's connection. One camera fills the large view, the other plays small in the
// corner (picture in picture); S or a click on the small one swaps them. Captures and the
// pointer go to the camera on the large view; the server is told with `select-camera`.

/** The camera number a received video track carries: its transceiver's place among the video ones. */
export function cameraOfTrack(pc, event) {
  const videos = pc.getTransceivers().filter((t) => t.receiver && t.receiver.track && t.receiver.track.kind === 'video');
  const index = videos.indexOf(event.transceiver);
  return index >= 0 ? index + 1 : 1;
}

/** "Camera 2 · Dock phone": a camera's label as the console shows it. */
export function cameraLabel(camera) {
  return camera.name ? `${camera.label} · ${camera.name}` : camera.label;
}

export class CameraViews {
  /**
   * `large`, `small`: the two <video> elements; `smallTile` the small one's box; labels for
   * each; `send(message)`; `onSwap()` after the large view changed camera; `photoMode(n)`
   * whether camera n is in photo mode (its label says so).
   */
  constructor({ large, small, smallTile, largeLabel, smallLabel, send, onSwap, photoMode = () => false }) {
    Object.assign(this, { large, small, smallTile, largeLabel, smallLabel, send, onSwap, photoMode });
    this.streams = new Map(); // camera number → MediaStream (its video, plus the facility's audio)
    this.audio = null;
    this.cameras = []; // from the server's `cameras` message
    this.onScreen = 1;
    this.chosen = 1; // the camera the auditor put on the large view (camera 1 until they swap)
    small.muted = true; // the facility is heard through the large view only
    smallTile.addEventListener('click', () => this.swap());
  }

  /** A new peer connection: no tracks yet. */
  reset() {
    this.streams = new Map();
    this.audio = null;
    this.attach();
  }

  stream(number) {
    if (!this.streams.has(number)) {
      const stream = new MediaStream();
      if (this.audio) stream.addTrack(this.audio);
      this.streams.set(number, stream);
    }
    return this.streams.get(number);
  }

  addTrack(track, camera) {
    if (track.kind === 'audio') {
      this.audio = track;
      for (const stream of this.streams.values()) stream.addTrack(track);
      this.stream(this.onScreen);
    } else {
      this.stream(camera).addTrack(track);
    }
    this.attach();
  }

  /**
   * The server's list of cameras changed. While the auditor's camera is away (its phone
   * reconnecting, say) another one fills the large view; it goes back once it returns.
   */
  update(cameras) {
    this.cameras = Array.isArray(cameras) ? cameras : [];
    const numbers = this.cameras.map((c) => c.id);
    const wanted = numbers.includes(this.chosen) ? this.chosen : numbers[0];
    if (numbers.length && wanted !== this.onScreen) this.select(wanted, { byAuditor: false });
    else this.attach();
  }

  other() {
    return this.cameras.map((c) => c.id).find((n) => n !== this.onScreen) ?? null;
  }

  swap() {
    const other = this.other();
    if (other === null) return false;
    this.select(other);
    return true;
  }

  select(number, { byAuditor = true } = {}) {
    if (byAuditor) this.chosen = number;
    this.onScreen = number;
    this.send({ type: 'select-camera', camera: number });
    this.attach();
    this.onSwap();
  }

  /** Tell the server again after a reconnect. */
  announce() {
    if (this.cameras.length > 1 || this.onScreen !== 1) this.send({ type: 'select-camera', camera: this.onScreen });
  }

  attach() {
    const show = (video, stream) => {
      if (video.srcObject !== stream) {
        video.srcObject = stream;
        if (stream) video.play().catch(() => {});
      }
    };
    show(this.large, this.stream(this.onScreen));
    const other = this.other();
    this.smallTile.hidden = other === null;
    show(this.small, other === null ? null : this.stream(other));
    const byId = new Map(this.cameras.map((c) => [c.id, c]));
    const several = this.cameras.length > 1;
    const onScreen = byId.get(this.onScreen);
    const label = (number) => {
      const camera = byId.get(number);
      if (!camera) return '';
      return this.photoMode(number) ? `${cameraLabel(camera)} · Photo mode` : cameraLabel(camera);
    };
    this.largeLabel.textContent = onScreen && several ? label(this.onScreen) : '';
    this.largeLabel.hidden = !(onScreen && several);
    this.large.dataset.camera = String(this.onScreen);
    this.large.dataset.photoMode = String(this.photoMode(this.onScreen));
    this.smallLabel.textContent = other === null ? '' : label(other);
    this.small.dataset.camera = other === null ? '' : String(other);
    this.small.dataset.photoMode = String(other !== null && this.photoMode(other));
  }
}
