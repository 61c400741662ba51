// "Point here": the auditor clicks on the live picture, the phone shows a marker at the same
// spot of its own preview. Positions travel as fractions of the video frame (0,0 top left),
// so letterboxing on either screen does not move them.

import { element } from './dom.js';

const RIPPLE_MS = 900;
const MARKER_MS = 4_000;

/**
 * Where the picture is drawn inside a <video> with `object-fit: contain`, in CSS pixels
 * relative to the element's box: {left, top, width, height}; null before the first frame.
 */
export function pictureBox(video) {
  const { videoWidth, videoHeight } = video;
  const width = video.clientWidth;
  const height = video.clientHeight;
  if (!videoWidth || !videoHeight || !width || !height) return null;
  const scale = Math.min(width / videoWidth, height / videoHeight);
  const shownWidth = videoWidth * scale;
  const shownHeight = videoHeight * scale;
  return { left: (width - shownWidth) / 2, top: (height - shownHeight) / 2, width: shownWidth, height: shownHeight };
}

/** A click at (clientX, clientY) as a position in the frame, or null when it missed the picture. */
export function framePosition(video, clientX, clientY) {
  const box = pictureBox(video);
  if (!box) return null;
  const rect = video.getBoundingClientRect();
  const x = (clientX - rect.left - box.left) / box.width;
  const y = (clientY - rect.top - box.top) / box.height;
  if (x < 0 || x > 1 || y < 0 || y > 1) return null;
  return { x: Math.round(x * 10_000) / 10_000, y: Math.round(y * 10_000) / 10_000 };
}

/** Console: clicks on the live video become `pointer` messages, with a ripple where clicked. */
export class VideoPointer {
  /** `send(message)` returns false when it could not be sent; `enabled()` says if pointing makes sense now. */
  constructor(frame, video, { send, enabled, camera = () => null }) {
    this.frame = frame;
    this.video = video;
    this.send = send;
    this.enabled = enabled;
    this.camera = camera; // the camera on this video: only its phone shows the marker
    video.addEventListener('click', (event) => this.click(event));
  }

  click(event) {
    if (!this.enabled()) return;
    const position = framePosition(this.video, event.clientX, event.clientY);
    if (!position) return;
    const message = { type: 'pointer', x: position.x, y: position.y };
    const camera = this.camera();
    if (camera) message.camera = camera;
    if (!this.send(message)) return;
    const frameRect = this.frame.getBoundingClientRect();
    this.ripple(event.clientX - frameRect.left, event.clientY - frameRect.top);
  }

  ripple(left, top) {
    const node = element('span', 'pointer-ripple');
    node.setAttribute('aria-hidden', 'true');
    node.style.left = `${left}px`;
    node.style.top = `${top}px`;
    this.frame.append(node);
    setTimeout(() => node.remove(), RIPPLE_MS);
  }
}

/** Phone: a pulsing ring over the local preview for a few seconds. */
export class PointerMarker {
  constructor(marker, video) {
    this.marker = marker;
    this.video = video;
    this.timer = 0;
  }

  show(x, y) {
    const box = pictureBox(this.video);
    if (!box) return;
    // The front camera's preview is mirrored; the auditor sees the picture as sent.
    const shownX = this.video.classList.contains('mirrored') ? 1 - x : x;
    const marker = this.marker;
    marker.style.left = `${this.video.offsetLeft + box.left + shownX * box.width}px`;
    marker.style.top = `${this.video.offsetTop + box.top + y * box.height}px`;
    marker.hidden = false;
    // Restart the pulse when the auditor points again.
    marker.classList.remove('is-pulsing');
    void marker.offsetWidth;
    marker.classList.add('is-pulsing');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), MARKER_MS);
  }

  hide() {
    clearTimeout(this.timer);
    this.marker.hidden = true;
    this.marker.classList.remove('is-pulsing');
  }
}
