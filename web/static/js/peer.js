// The page's one RTCPeerConnection with the server. The server cannot restart ICE, so a
// connection that fails is replaced by a new one with a fresh offer (docs/protocol.md).
// Recovery does not wait on long timers: while signaling is down nothing is retried (the
// next `welcome` renews the connection at once); while it is up, a failed connection is
// replaced within a second or two.
//
// Offers go out only within a signaling session, from its `welcome` on: the server reads a
// socket's messages in order, so an offer sent on a new socket before its `welcome` is
// answered after it, when the `welcome` has already made a new connection, and that
// connection would take the old offer's answer (and the next one the next, and so on).

const DISCONNECT_GRACE_MS = 3_000;
const CONNECT_TIMEOUT_MS = 8_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 2_000;

/** The wire form of a trickled candidate; null marks the end of gathering. */
export function candidateMessage(candidate) {
  if (!candidate || !candidate.candidate) return { type: 'candidate', candidate: null };
  const { sdpMid, sdpMLineIndex } = candidate;
  return { type: 'candidate', candidate: { candidate: candidate.candidate, sdpMid, sdpMLineIndex } };
}

/**
 * Events: `pc` (a new RTCPeerConnection, as detail), `state` (its connectionState),
 * `track` (the RTCTrackEvent), `recovering` ({delayMs}), `error` (an Error) and `relay-problem`
 * ({code, text}): the connection failed and a TURN server refused or did not answer (a wrong
 * or expired credential, a blocked port). With the relay-only policy that is known as soon as
 * gathering ends without a candidate, so it comes then rather than after the connect timeout.
 *
 * Options: `send(message)` returns false when signaling is down; `setup(pc)` adds the
 * page's transceivers; `recover()`, if given, replaces the default recovery (a new
 * connection and offer on the same socket) once the backoff delay has passed.
 *
 * The page calls `welcome()` when a signaling session starts and `signalingLost()` when its
 * socket closes or a new one opens: in between, a failure schedules nothing and `renew()`
 * does nothing (the next `welcome` renews the connection).
 */
export class PeerLink extends EventTarget {
  constructor({ send, setup, recover = null }) {
    super();
    this.send = send;
    this.setup = setup;
    this.recover = recover;
    this.joined = false; // within a signaling session: from its `welcome` to its socket's end
    this.pc = null;
    this.iceServers = [];
    this.iceTransportPolicy = 'all';
    this.turnErrors = [];
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
  welcome(iceServers, iceTransportPolicy = 'all') {
    this.closed = false;
    this.joined = true;
    this.iceServers = Array.isArray(iceServers) ? iceServers : [];
    this.iceTransportPolicy = iceTransportPolicy === 'relay' ? 'relay' : 'all';
    this.offersSent = 0;
    this.answersSeen = 0;
    this.clearTimer('retry');
    return this.renew();
  }

  /**
   * The signaling socket closed, or a new one opened and has not been welcomed yet: no offer
   * until the next `welcome` (which renews the connection).
   */
  signalingLost() {
    this.joined = false;
    this.clearTimer('retry');
  }

  /** Replace the connection: close the old one, build a new one and send its offer. */
  async renew() {
    if (!this.joined) return; // the next `welcome` renews it
    this.clearTimer('grace');
    this.clearTimer('connect');
    this.closePc();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.iceTransportPolicy,
    });
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
    this.turnErrors = [];
    this.pcConnected = false;
    let gathered = 0;
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      if (event.candidate && event.candidate.candidate) gathered += 1;
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
    pc.onicecandidateerror = (event) => {
      if (pc !== this.pc || !/^turns?:/.test(event.url || '')) return;
      this.turnErrors.push({ code: event.errorCode, text: event.errorText || '' });
    };
    // Gathering ended without a single candidate: this connection cannot connect, so try
    // again at once rather than wait for the connect timeout. Relay-only, the TURN server
    // refused or did not answer; otherwise the browser has not seen a network that just came back.
    pc.onicegatheringstatechange = () => {
      if (pc !== this.pc || pc.iceGatheringState !== 'complete' || gathered > 0) return;
      if (this.iceTransportPolicy === 'relay') {
        if (!this.turnErrors.length) this.turnErrors.push({ code: 0, text: 'no relay candidate' });
        this.fail(new Error('no relay candidate: the TURN server refused or did not answer'));
      } else {
        this.fail(new Error('no network address to connect from'));
      }
    };
  }

  changed(state) {
    if (state === 'connected') {
      this.pcConnected = true;
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
    // A connection that worked and then dropped is a network problem, not the relay's.
    const turnError = this.turnErrors[this.turnErrors.length - 1];
    if (turnError && !this.pcConnected) this.emit('relay-problem', turnError);
    if (!this.joined) {
      // No signaling session: nothing to send an offer through. The reconnect brings a
      // `welcome`, and with it a new connection at once, whenever the link returns.
      this.emit('recovering', { delayMs: null });
      return;
    }
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
    pc.onicecandidateerror = pc.onicegatheringstatechange = null;
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
