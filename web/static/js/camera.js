// The facility phone's camera and microphone: start, flip between cameras, torch, mute.

/** Capture settings: 720p30 when the camera can, the requested facing mode preferred. */
export function videoConstraints(facingMode) {
  return { facingMode, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
}

async function openVideo(facingMode) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(facingMode) });
  return stream.getVideoTracks()[0];
}

/**
 * Holds one MediaStream with the current video and audio track. Fires `ended` when the
 * video track stops by itself (another app took the camera, the OS suspended it).
 */
export class Camera extends EventTarget {
  constructor() {
    super();
    this.stream = new MediaStream();
    this.facing = 'environment';
    this.torchOn = false;
    this.onEnded = () => this.dispatchEvent(new Event('ended'));
  }

  static get supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  get video() {
    return this.stream.getVideoTracks()[0] || null;
  }

  get audio() {
    return this.stream.getAudioTracks()[0] || null;
  }

  get hasTorch() {
    const track = this.video;
    return Boolean(track && track.getCapabilities && track.getCapabilities().torch);
  }

  async start() {
    const video = videoConstraints({ ideal: 'environment' });
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video, audio: true });
    } catch (error) {
      if (error.name !== 'OverconstrainedError') throw error;
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    }
    this.stop();
    this.stream = stream;
    this.adopt(this.video, 'environment');
  }

  /** Switch between the back and the front camera; returns the new video track. */
  async flip() {
    const wanted = this.facing === 'user' ? 'environment' : 'user';
    // Many phones cannot open a second camera while the first is running.
    this.releaseVideo();
    let track;
    try {
      track = await openVideo({ exact: wanted });
    } catch {
      track = await this.reopen();
      return track;
    }
    this.replaceVideo(track, wanted);
    return track;
  }

  /** Open the current camera again, e.g. after it ended; returns the new video track. */
  async reopen() {
    this.releaseVideo();
    const track = await openVideo({ ideal: this.facing });
    this.replaceVideo(track, this.facing);
    return track;
  }

  async setTorch(on) {
    await this.video.applyConstraints({ advanced: [{ torch: on }] });
    this.torchOn = on;
  }

  setMuted(muted) {
    if (this.audio) this.audio.enabled = !muted;
  }

  stop() {
    for (const track of this.stream.getTracks()) {
      track.removeEventListener('ended', this.onEnded);
      track.stop();
    }
  }

  releaseVideo() {
    const old = this.video;
    if (!old) return;
    old.removeEventListener('ended', this.onEnded);
    old.stop();
    this.stream.removeTrack(old);
  }

  replaceVideo(track, facing) {
    this.releaseVideo();
    this.stream.addTrack(track);
    this.adopt(track, facing);
  }

  adopt(track, facing) {
    // Tells the encoder to keep resolution over frame rate: seal numbers and labels must stay legible.
    if ('contentHint' in track) track.contentHint = 'detail';
    const settings = track.getSettings ? track.getSettings() : {};
    this.facing = settings.facingMode || facing;
    this.torchOn = false;
    track.addEventListener('ended', this.onEnded);
  }
}
