// The facility camera on the console: playback that survives autoplay rules, knowing when
// frames really arrive, and full screen.

export class RemoteVideo {
  /** `onFrame()` runs for the first frames; `onResize()` when the picture size changes. */
  constructor({ frame, video, soundButton, onFrame, onResize }) {
    this.frame = frame;
    this.video = video;
    this.soundButton = soundButton;
    this.onFrame = onFrame;
    soundButton.addEventListener('click', () => this.enableSound());
    video.addEventListener('resize', onResize);
    this.watchFrames();
  }

  /**
   * Browsers may refuse to autoplay sound before the user has clicked anything; then play
   * muted (video still flows) and offer a button for the sound.
   */
  play() {
    const video = this.video;
    video.play().catch((error) => {
      if (error.name !== 'NotAllowedError') return;
      video.muted = true;
      this.soundButton.hidden = false;
      video.play().catch(() => {});
    });
  }

  enableSound() {
    this.video.muted = false;
    this.video.play().then(() => { this.soundButton.hidden = true; }, () => {});
  }

  watchFrames() {
    const video = this.video;
    const seen = () => {
      if (video.videoWidth > 0) this.onFrame();
    };
    if ('requestVideoFrameCallback' in video) {
      const tick = () => {
        seen();
        video.requestVideoFrameCallback(tick);
      };
      video.requestVideoFrameCallback(tick);
    } else {
      video.addEventListener('playing', seen);
      video.addEventListener('timeupdate', seen);
    }
  }

  /** A capture is stored: a short flash over the video, like a camera shutter. */
  shutter() {
    this.frame.classList.remove('is-captured');
    void this.frame.offsetWidth; // restart the animation when captures follow each other
    this.frame.classList.add('is-captured');
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (this.frame.requestFullscreen) this.frame.requestFullscreen().catch(() => {});
  }
}
