// Phone: is anything still arriving on the peer connection? The server sends the phone
// packets all the time while the path works: receiver reports and bandwidth feedback
// (REMB, every 0.5 s) for the video it gets, answers to the browser's ICE keepalives, the
// auditor's voice. When the phone moves to another network nothing tells the page and the
// connection stays `connected` for a while, but those packets stop at once: a few seconds
// of silence on the transport mean the path is gone (docs/architecture.md, "Recovering
// from a bad network"). A congested uplink does not stop them: the downlink still brings
// the reports, so a thin link is not taken for a dead one.

export const CHECK_MS = 250;
// On a working path the phone hears from the server several times a second: the receiver
// reports of its audio and its video come every 0.5–1.5 s each, the REMB every 0.5 s while
// video arrives, the auditor's voice 50 times a second. A second and a half without a byte
// is no hiccup.
export const SILENT_MS = 1_500;

/**
 * From a getStats() report: the bytes received so far by the connection's transports (every
 * ICE transport, summed; not counting ICE checks), and the local address of the candidate
 * pair in use (null when there is none).
 */
export function readPath(report) {
  let transports = 0;
  let pairs = 0;
  let sawTransport = false;
  let pairId = null;
  report.forEach((s) => {
    if (s.type === 'transport' && Number.isFinite(s.bytesReceived)) {
      sawTransport = true;
      transports += s.bytesReceived;
      if (s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    } else if (s.type === 'candidate-pair' && Number.isFinite(s.bytesReceived)) {
      pairs += s.bytesReceived;
    }
  });
  const pair = pairId && report.get(pairId);
  const local = pair && report.get(pair.localCandidateId);
  return { bytes: sawTransport ? transports : pairs, local: (local && (local.address || local.ip)) || null };
}

/**
 * Samples `pc()` every CHECK_MS while it is `connected`. Event `silent` ({pc, silentMs})
 * once a connection has received nothing for SILENT_MS; it fires again for the same
 * connection only after packets have come in between. Event `moved` ({pc, from, to}) when
 * the connection's path now leaves from another local address: the browser found a new
 * network and moved the media to it, which it may do before the silence is long enough to
 * tell; the signaling socket, bound to the old address, is not moved with it. Event `report`
 * ({pc, report}) with every reading, for whoever else needs the connection's statistics
 * (one getStats() loop on the phone, not one per reader).
 */
export class MediaWatch extends EventTarget {
  constructor({ pc }) {
    super();
    this.pc = pc;
    this.timer = 0;
    this.busy = false;
    this.watched = null; // the connection the counters below belong to
    this.bytes = -1;
    this.local = null;
    this.changedAt = 0;
    this.told = false;
  }

  start() {
    if (!this.timer) this.timer = setInterval(() => this.check(), CHECK_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    this.watched = null;
  }

  async check() {
    const pc = this.pc();
    if (this.busy || !pc) return;
    if (pc !== this.watched || pc.connectionState !== 'connected') {
      // A new connection, or one not (yet, or no longer) connected: its silence is not news.
      this.watched = pc.connectionState === 'connected' ? pc : null;
      this.bytes = -1;
      this.local = null;
      this.changedAt = performance.now();
      this.told = false;
      if (!this.watched) return;
    }
    this.busy = true;
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return; // closed meanwhile
    } finally {
      this.busy = false;
    }
    if (pc !== this.watched) return;
    this.dispatchEvent(new CustomEvent('report', { detail: { pc, report } }));
    const { bytes, local } = readPath(report);
    if (local && this.local && local !== this.local) {
      this.dispatchEvent(new CustomEvent('moved', { detail: { pc, from: this.local, to: local } }));
    }
    if (local) this.local = local;
    const now = performance.now();
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.changedAt = now;
      this.told = false;
      return;
    }
    const silentMs = now - this.changedAt;
    if (silentMs >= SILENT_MS && !this.told) {
      this.told = true;
      this.dispatchEvent(new CustomEvent('silent', { detail: { pc, silentMs } }));
    }
  }
}
