// The signaling WebSocket (docs/protocol.md): JSON messages, a heartbeat both ways, and
// reconnection with a short, capped backoff until the server closes for good.

import { socketUrl } from './dom.js';

/**
 * Close codes after which a reconnect cannot succeed: bad token or session, access revoked
 * (invite revoked, signed out everywhere, removed from the audit), no audit, audit completed.
 */
export const TERMINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4409, 4412, 4429]);

const DEFAULTS = {
  // The page pings this often; the server answers `pong` (and pings us when we are quiet).
  pingMs: 2_000,
  // A socket that has been silent this long (no pong either) is dead even if the browser
  // has not noticed yet, as happens when a phone loses its network or moves to another
  // (nothing tells the page then): with pings every 2 s, a dead link is noticed within
  // 5.5 s of its last answer, and a pong has 3 s to cross a congested uplink.
  staleMs: 5_000,
  checkMs: 500,
  // A connect attempt that hangs (packets into a dead link) is abandoned after this and
  // tried again, so that a link that returns is used within a couple of seconds.
  connectTimeoutMs: 2_500,
  // The backoff is capped low: a phone on a bad link retries often (a few small packets),
  // and uses the link as soon as it is back. Jitter spreads phones that lost the same server.
  minDelayMs: 250,
  maxDelayMs: 1_000,
};

/**
 * Events: `open`; `close` with detail {code, reason, terminal, retryInMs};
 * `message` with the parsed message as detail. `on(type, fn)` registers one handler per
 * message type.
 */
export class Signaling extends EventTarget {
  constructor(path, options = {}) {
    super();
    this.url = socketUrl(path);
    this.options = { ...DEFAULTS, ...options };
    this.ws = null;
    this.handlers = new Map();
    this.attempt = 0;
    this.retryTimer = 0;
    this.probeTimer = 0;
    this.pingTimer = 0;
    this.connectTimer = 0;
    this.lastHeard = 0;
    this.lastPing = 0;
    this.openedAt = 0;
    this.stopped = true;
    this.lastError = null;
    this.wake = () => {
      if (document.visibilityState !== 'hidden') this.reconnectNow();
    };
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  on(type, handler) {
    this.handlers.set(type, handler);
    return this;
  }

  connect() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.wake);
    document.addEventListener('visibilitychange', this.wake);
    this.open();
  }

  /** Send one message; false when the socket is not open (the caller retries after `open`). */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Drop the current socket and reconnect after the usual backoff, or at once with `now`
   * (the socket is known dead, e.g. bound to a network that is gone, and a new one can go
   * out on the network the phone has now).
   */
  restart(now = false) {
    if (this.stopped) return;
    this.detach();
    this.closed(4000, 'restart');
    if (now) this.reconnectNow();
  }

  /** Was anything heard on an open socket within the last `ms`? */
  heardWithin(ms) {
    return this.isOpen && Date.now() - this.lastHeard <= ms;
  }

  /**
   * Ping now and give the socket up (and open a new one at once) if nothing is heard within
   * `ms`. For a peer connection that just lost its path: after a network switch the socket
   * has lost it too, and nothing else tells the page before the heartbeat's 5 s of silence.
   */
  probe(ms) {
    if (this.stopped || !this.isOpen || this.probeTimer) return;
    const asked = Date.now();
    this.ping();
    this.probeTimer = setTimeout(() => {
      this.probeTimer = 0;
      if (this.isOpen && this.lastHeard < asked) this.restart(true);
    }, ms);
  }

  /**
   * Skip the backoff wait, e.g. when the network comes back or the page becomes visible.
   * A connect attempt still hanging is abandoned for a fresh one; an open socket that has
   * gone quiet is probed with a ping (the heartbeat then decides).
   */
  reconnectNow() {
    if (this.stopped) return;
    if (this.ws !== null && this.ws.readyState === WebSocket.CONNECTING) this.detach();
    if (this.ws !== null) {
      if (!this.heardWithin(this.options.pingMs)) this.ping();
      return;
    }
    // The network is back: if this attempt fails (its routes may not be up yet), the next
    // comes after the shortest delay.
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.open();
  }

  stop() {
    clearTimeout(this.probeTimer);
    this.probeTimer = 0;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    this.stopPing();
    this.detach();
    window.removeEventListener('online', this.wake);
    document.removeEventListener('visibilitychange', this.wake);
  }

  open() {
    this.detach();
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.openedAt = Date.now(); // sent in `join`: the server keeps the later of two sockets
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (this.ws !== ws || ws.readyState !== WebSocket.CONNECTING) return;
      this.detach();
      this.closed(4000, 'connect timeout');
    }, this.options.connectTimeoutMs);
    ws.onopen = () => {
      clearTimeout(this.connectTimer);
      this.lastHeard = Date.now();
      this.startPing();
      this.emit('open', null);
    };
    ws.onmessage = (event) => this.receive(event.data);
    // An `error` event is always followed by `close`, which does the work.
    ws.onclose = (event) => this.closed(event.code, event.reason);
  }

  receive(data) {
    this.lastHeard = Date.now();
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object' || typeof message.type !== 'string') return;
    if (message.type === 'ping') {
      // The server's heartbeat: it closes a socket it has not heard from within 10 s.
      this.send({ type: 'pong' });
      return;
    }
    if (message.type === 'error') {
      this.lastError = message;
    } else {
      // The server has accepted us: the next outage starts its backoff from the beginning.
      this.attempt = 0;
    }
    const handler = this.handlers.get(message.type);
    if (handler) handler(message);
    this.emit('message', message);
  }

  closed(code, reason) {
    this.stopPing();
    clearTimeout(this.connectTimer);
    this.ws = null;
    const terminal = TERMINAL_CLOSE_CODES.has(code);
    if (this.stopped || terminal) {
      if (terminal) this.stop();
      this.emit('close', { code, reason, terminal, retryInMs: null });
      return;
    }
    const delay = this.nextDelay();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
    this.emit('close', { code, reason, terminal: false, retryInMs: delay });
  }

  nextDelay() {
    const { minDelayMs, maxDelayMs } = this.options;
    const base = Math.min(maxDelayMs, minDelayMs * 2 ** this.attempt);
    this.attempt += 1;
    // Jitter keeps many clients that lost the same server from returning in lockstep.
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  startPing() {
    this.stopPing();
    this.lastPing = Date.now();
    this.pingTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastHeard > this.options.staleMs) {
        this.restart(true);
        return;
      }
      if (now - this.lastPing >= this.options.pingMs) this.ping();
    }, this.options.checkMs);
  }

  ping() {
    this.lastPing = Date.now();
    this.send({ type: 'ping' });
  }

  stopPing() {
    clearInterval(this.pingTimer);
  }

  detach() {
    const ws = this.ws;
    if (ws === null) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
