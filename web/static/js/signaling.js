// The signaling WebSocket (docs/protocol.md): JSON messages, keep-alive pings, and
// reconnection with exponential backoff until the server closes for good.

import { socketUrl } from './dom.js';

/**
 * Close codes after which a reconnect cannot succeed: bad token or session, access revoked
 * (invite revoked, signed out everywhere, removed from the audit), no audit, audit completed.
 */
export const TERMINAL_CLOSE_CODES = new Set([4401, 4403, 4404, 4409]);

const DEFAULTS = {
  pingMs: 20_000,
  // A socket that has been silent this long (no pong either) is dead even if the browser
  // has not noticed yet, as happens when a phone moves between networks.
  staleMs: 50_000,
  minDelayMs: 500,
  maxDelayMs: 15_000,
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
    this.pingTimer = 0;
    this.lastHeard = 0;
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

  /** Drop the current socket and reconnect after the usual backoff. */
  restart() {
    if (this.stopped) return;
    this.detach();
    this.closed(4000, 'restart');
  }

  /** Skip the backoff wait, e.g. when the network comes back or the page becomes visible. */
  reconnectNow() {
    if (this.stopped || this.ws !== null) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPing();
    this.detach();
    window.removeEventListener('online', this.wake);
    document.removeEventListener('visibilitychange', this.wake);
  }

  open() {
    this.detach();
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
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
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > this.options.staleMs) {
        this.restart();
        return;
      }
      this.send({ type: 'ping' });
    }, this.options.pingMs);
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
