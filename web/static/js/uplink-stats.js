// Phone: the uplink as this page sees it, and the encoder settings for a thin one.
//
// Every ~2 s the page sends a compact `uplink-stats` message from its RTCPeerConnection's
// getStats() (the readings media-watch.js takes anyway); the server adds what reached it
// and shows both to the auditor.
// The senders are set up "audio first": the voice gets the higher priority, and the video
// gives up resolution before frames (a picture that freezes is worse than a softer one):
// the encoder's own scaler steps the resolution down and up with the bandwidth estimate.
// See docs/architecture.md, "Thin uplinks".

export const SAMPLE_MS = 2_000;
// A 720p camera needs no more; on a thin uplink the browser's estimate decides.
export const VIDEO_MAX_BITRATE = 1_500_000;
export const AUDIO_MAX_BITRATE = 40_000;

/** `sendEncodings` for the phone's audio and video transceivers. */
export function sendEncodings(kind) {
  if (kind === 'audio') return [{ priority: 'high', networkPriority: 'high', maxBitrate: AUDIO_MAX_BITRATE }];
  return [{ priority: 'low', networkPriority: 'low', maxBitrate: VIDEO_MAX_BITRATE }];
}

const round = (value, digits = 1) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);
const whole = (value) => (Number.isFinite(value) ? Math.round(value) : null);
const LIMITS = new Set(['none', 'bandwidth', 'cpu', 'other']);

/** Pick the page's numbers out of a getStats() report (a Map-like of stats objects). */
export function readReport(report) {
  const out = { video: null, audio: null, remote: null, pair: null };
  report.forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video' && !out.video) out.video = s;
    else if (s.type === 'outbound-rtp' && s.kind === 'audio' && !out.audio) out.audio = s;
    else if (s.type === 'remote-inbound-rtp' && s.kind === 'video') out.remote = s;
    else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') out.pair = s;
  });
  return out;
}

function kbpsBetween(before, now) {
  if (!before || !now || !(now.timestamp > before.timestamp)) return null;
  const bytes = (now.bytesSent || 0) - (before.bytesSent || 0);
  return Math.max(0, (bytes * 8) / (now.timestamp - before.timestamp)); // bits per ms = kbit/s
}

function lossBetween(before, now) {
  if (!now) return null;
  if (Number.isFinite(now.fractionLost)) return now.fractionLost;
  if (!before || !Number.isFinite(now.packetsLost)) return null;
  const lost = now.packetsLost - (before.packetsLost || 0);
  const sent = (now.packetsReceived || 0) - (before.packetsReceived || 0) + lost;
  return sent > 0 ? Math.min(1, Math.max(0, lost / sent)) : null;
}

/** The `uplink-stats` message for the interval between two readings. */
export function uplinkMessage(before, now, active) {
  const video = now.video;
  const rtt = now.remote && Number.isFinite(now.remote.roundTripTime)
    ? now.remote.roundTripTime
    : now.pair && now.pair.currentRoundTripTime;
  const limit = video && video.qualityLimitationReason;
  return {
    type: 'uplink-stats',
    video_kbps: round(kbpsBetween(before && before.video, video)),
    width: active && video ? whole(video.frameWidth) : null,
    height: active && video ? whole(video.frameHeight) : null,
    fps: active && video ? round(video.framesPerSecond) : null,
    limit: LIMITS.has(limit) ? limit : null,
    audio_kbps: round(kbpsBetween(before && before.audio, now.audio)),
    rtt_ms: Number.isFinite(rtt) ? round(rtt * 1000) : null,
    loss: round(lossBetween(before && before.remote, now.remote), 4),
    available_kbps: now.pair && Number.isFinite(now.pair.availableOutgoingBitrate)
      ? round(now.pair.availableOutgoingBitrate / 1000)
      : null,
    active,
  };
}

/**
 * The phone's senders: audio first, video that degrades in resolution, paused in photo
 * mode. Every change goes through one queue, since setParameters calls must not overlap.
 */
export class EncoderTuner {
  constructor() {
    this.video = null;
    this.audio = null;
    this.active = true; // false in photo mode
    this.queue = Promise.resolve();
  }

  /** A new peer connection's senders (called right after its transceivers are added). */
  attach(videoSender, audioSender) {
    this.video = videoSender;
    this.audio = audioSender;
    const track = videoSender && videoSender.track;
    if (track && 'contentHint' in track) track.contentHint = 'motion'; // keep the frame rate
    this.apply();
  }

  /** Photo mode: no video packets at all (the preview goes on); audio is untouched. */
  setActive(active) {
    this.active = active;
    this.apply();
  }

  apply() {
    const { video, audio } = this;
    this.queue = this.queue
      .then(() => Promise.all([video && this.tuneVideo(video), audio && this.tuneAudio(audio)]))
      .catch((error) => console.warn('encoder settings:', error.message));
    return this.queue;
  }

  async tuneVideo(sender) {
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return;
    for (const encoding of params.encodings) {
      encoding.active = this.active;
      encoding.maxBitrate = VIDEO_MAX_BITRATE;
    }
    params.degradationPreference = 'maintain-framerate';
    try {
      await sender.setParameters(params);
    } catch (error) {
      // Browsers without degradationPreference in the parameters: the rest still applies.
      delete params.degradationPreference;
      await sender.setParameters(params);
    }
  }

  async tuneAudio(sender) {
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return;
    for (const encoding of params.encodings) {
      encoding.priority = 'high';
      encoding.networkPriority = 'high';
    }
    await sender.setParameters(params);
  }
}

/**
 * Turns readings of the connection's getStats() (the phone's MediaWatch takes one every
 * 0.25 s) into an `uplink-stats` message every SAMPLE_MS: `send(message)` gets each.
 */
export class UplinkSampler {
  constructor({ send, active = () => true }) {
    this.send = send;
    this.active = active;
    this.previous = null;
    this.previousPc = null;
    this.sentAt = -Infinity;
  }

  /** Forget the last reading: the next one starts a new interval. */
  stop() {
    this.previous = null;
    this.previousPc = null;
    this.sentAt = -Infinity;
  }

  /** A reading of `pc`, a connected peer connection; sent on if SAMPLE_MS have passed. */
  take(pc, report) {
    const at = performance.now();
    if (at - this.sentAt < SAMPLE_MS && pc === this.previousPc) return;
    const now = readReport(report);
    // A new connection starts its counters again: no interval across two connections.
    const before = pc === this.previousPc ? this.previous : null;
    this.previous = now;
    this.previousPc = pc;
    this.sentAt = at;
    this.send(uplinkMessage(before, now, this.active()));
  }
}
