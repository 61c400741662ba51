// Replay of an audit filmed by several facility cameras: each camera's segment stream plays in
// its own <video>, side by side, on one timeline. The first camera's player leads (the timeline,
// keys and controls act on it); the others follow its clock: play, pause, speed and seeks are
// copied at once, and a drift over DRIFT_S is corrected.

import { SegmentSource } from './replay-source.js';

const DRIFT_S = 0.25;

/** The camera numbers of a manifest's segments, in order (a segment without one is camera 1). */
export function camerasOf(segments) {
  return [...new Set(segments.map((segment) => segment.camera || 1))].sort((a, b) => a - b);
}

export function segmentsOf(segments, camera) {
  return segments.filter((segment) => (segment.camera || 1) === camera);
}

/** A second camera's player that keeps to the leader's time. */
export class FollowerPlayer {
  constructor(leader, video, segments, duration) {
    this.leader = leader;
    this.video = video;
    this.video.muted = true; // one soundtrack: the leader's
    this.source = new SegmentSource(video, segments, duration, { landWithin: DRIFT_S });
    for (const name of ['play', 'pause', 'seeking', 'ratechange']) {
      leader.addEventListener(name, () => this.follow(name));
    }
    leader.addEventListener('timeupdate', () => this.correct());
  }

  start(t) {
    return this.source.start(t);
  }

  follow(name) {
    const { leader, video } = this;
    if (name === 'ratechange') {
      video.playbackRate = leader.playbackRate;
      return;
    }
    if (name === 'seeking') {
      video.currentTime = leader.currentTime;
      return;
    }
    if (leader.paused) video.pause();
    else video.play().catch(() => {});
  }

  correct() {
    const { leader, video } = this;
    if (Math.abs(video.currentTime - leader.currentTime) > DRIFT_S) video.currentTime = leader.currentTime;
  }
}
