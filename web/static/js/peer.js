// The page's one RTCPeerConnection with the server. The server cannot restart ICE, so a
// connection that fails is replaced by a new one with a fresh offer (docs/protocol.md).

const DISCONNECT_GRACE_MS = 3_000;
const CONNECT_TIMEOUT_MS = 20_000;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 15_000;

/** The wire form of a trickled candidate; null marks the end of gathering. */
export function candidateMessage(candidate) {
  if (!candidate || !candidate.candidate) return { type: 'candidate', candidate: null };
  const { sdpMid, sdpMLineIndex } = candidate;
  return { type: 'candidate', candidate: { candidate: candidate.candidate, sdpMid, sdpMLineIndex } };
}

/**
 * Events: `pc` (a new RTCPeerConnection, as detail), `state` (its connectionState),
 * `track` (the RTCTrackEvent), `recovering` ({delayMs}) and `error` (an Error).
 *
 * Options: `send(message)` returns false when signaling is down; `setup(pc)` adds the
 * page's transceivers; `recover()`, if given, replaces the default recovery (a new
 * connection and offer on the same socket) once the backoff delay has passed.
 */
export class PeerLink extends EventTarget {
  constructor({ send, setup, recover = null }) {
    super();
    this.send = send;
    this.setup = setup;
    this.recover = recover;
    this.pc = null;
    this.iceServers = [];
    this.offersSent = 0;
    this.answersSeen = 0;
    this.attempt = 0;
    this.timers = { grace: 0, connect: 0, retry: 0 };
    this.closed = false;
    // Candidates gathered before the offer went out; sent right after it.
    this.heldCandidates = [];
    this.offerSent = false;
  }

  get state() {
    return this.pc ? this.pc.connectionState : 'new';
  }

  /** A `welcome` starts a new signaling session: forget old offers and connect afresh. */
  welcome(iceServers) {
    this.closed = false;
    this.iceServers = Array.isArray(iceServers) ? iceServers : [];
    this.offersSent = 0;
    this.answersSeen = 0;
    this.clearTimer('retry');
    return this.renew();
  }

  /** Replace the connection: close the old one, build a new one and send its offer. */
  async renew() {
    this.clearTimer('grace');
    this.clearTimer('connect');
    this.closePc();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.wire(pc);
    this.setup(pc);
    this.emit('pc', pc);
    this.emit('state', pc.connectionState);
    try {
      await pc.setLocalDescription(await pc.createOffer());
    } catch (error) {
      if (pc === this.pc) this.fail(error);
      return;
    }
    if (pc !== this.pc) return;
    if (this.send({ type: 'offer', sdp: pc.localDescription.sdp })) {
      this.offersSent += 1;
      this.offerSent = true;
      for (const message of this.heldCandidates.splice(0)) this.send(message);
      this.timers.connect = setTimeout(() => this.fail(new Error('connection timed out')), CONNECT_TIMEOUT_MS);
    }
  }

  /** Apply the server's answer, unless it answers an offer that has since been replaced. */
  async answer(sdp) {
    this.answersSeen += 1;
    const pc = this.pc;
    if (this.answersSeen < this.offersSent || !pc || pc.signalingState !== 'have-local-offer') return;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (error) {
      if (pc === this.pc) this.fail(error);
    }
  }

  /** The server refused our latest offer (`bad_sdp`). */
  offerRefused() {
    this.answersSeen += 1;
    if (this.answersSeen >= this.offersSent) this.fail(new Error('the server refused the offer'));
  }

  close() {
    this.closed = true;
    for (const name of Object.keys(this.timers)) this.clearTimer(name);
    this.closePc();
  }

  wire(pc) {
    this.offerSent = false;
    this.heldCandidates = [];
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      const message = candidateMessage(event.candidate);
      if (this.offerSent) this.send(message);
      else this.heldCandidates.push(message);
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.pc) this.changed(pc.connectionState);
    };
    pc.ontrack = (event) => {
      if (pc === this.pc) this.emit('track', event);
    };
  }

  changed(state) {
    if (state === 'connected') {
      this.attempt = 0;
      this.clearTimer('grace');
      this.clearTimer('connect');
    } else if (state === 'disconnected') {
      // Often recovers by itself within a second or two (a Wi-Fi hiccup).
      this.clearTimer('grace');
      this.timers.grace = setTimeout(() => this.fail(new Error('connection lost')), DISCONNECT_GRACE_MS);
    } else if (state === 'failed') {
      this.fail(new Error('connection failed'));
    }
    this.emit('state', state);
  }

  fail(error) {
    if (this.closed || this.timers.retry) return;
    this.clearTimer('grace');
    this.clearTimer('connect');
    this.emit('error', error);
    const delayMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.emit('recovering', { delayMs });
    this.timers.retry = setTimeout(() => {
      this.timers.retry = 0;
      if (this.recover) this.recover();
      else this.renew();
    }, delayMs);
  }

  closePc() {
    const pc = this.pc;
    if (!pc) return;
    this.pc = null;
    pc.onicecandidate = pc.onconnectionstatechange = pc.ontrack = null;
    pc.close();
  }

  clearTimer(name) {
    clearTimeout(this.timers[name]);
    this.timers[name] = 0;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
