// Console: each facility phone's uplink, live, one line per camera ("Camera 2 uplink"). A
// phone reports its own numbers about every 2 s (`uplink-stats`); the server adds what
// reached it and sends both as `uplink` with the camera number. A "weak link" badge naming
// the camera shows while the server says that camera's video is under the usable floor.

import { $ } from './dom.js';

// No report for this long: the numbers on screen are old, hide them.
const STALE_MS = 8_000;
const BELOW = { bitrate: 'bitrate', frame_rate: 'frame rate', resolution: 'resolution' };
const FIELDS = ['bitrate', 'resolution', 'fps', 'rtt', 'loss', 'audio'];

const number = (value) => (Number.isFinite(value) ? value : null);

/** "1.2 Mbit/s" or "180 kbit/s". */
export function bitrateText(kbps) {
  if (!Number.isFinite(kbps)) return '–';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

/** What the panel shows for one `uplink` message: the auditor sees what reached the server. */
export function uplinkView(message) {
  const phone = message.phone || {};
  const server = message.server || null;
  const kbps = number(server ? server.video_kbps : phone.video_kbps);
  const fps = number(server ? server.fps : phone.fps);
  const loss = number(server && Number.isFinite(server.loss) ? server.loss : phone.loss);
  return {
    kbps,
    fps,
    width: number(phone.width),
    height: number(phone.height),
    rtt: number(phone.rtt_ms),
    loss,
    audioKbps: number(phone.audio_kbps),
    limit: phone.limit || null,
    active: phone.active !== false,
  };
}

function span(className, text = '') {
  const node = document.createElement('span');
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

/** One camera's line: its label, the numbers, its weak-link badge. */
class UplinkLine {
  constructor(camera) {
    this.camera = camera;
    this.participant = null;
    this.timer = 0;
    const line = (this.node = document.createElement('p'));
    line.className = 'uplink small';
    line.dataset.testid = 'uplink-stats';
    line.dataset.camera = String(camera);
    line.setAttribute('role', 'status');
    line.setAttribute('aria-label', `Camera ${camera}'s uplink`);
    this.els = Object.fromEntries(FIELDS.map((field) => [field, span('')]));
    this.weak = span('weak-link', `Weak link · Camera ${camera}`);
    this.weak.dataset.testid = 'weak-link';
    this.weak.dataset.camera = String(camera);
    this.weak.hidden = true;
    line.append(span('uplink-label', `Camera ${camera} uplink`), ...Object.values(this.els), this.weak);
  }

  update(message) {
    const v = uplinkView(message);
    const { els, node } = this;
    this.participant = message.participant_id || null;
    node.dataset.kbps = v.kbps === null ? '' : String(Math.round(v.kbps));
    node.dataset.fps = v.fps === null ? '' : String(v.fps);
    node.dataset.height = v.height === null ? '' : String(v.height);
    node.dataset.active = String(v.active);
    els.bitrate.textContent = v.active ? bitrateText(v.kbps) : 'video paused';
    els.resolution.textContent = v.active && v.width && v.height ? `${v.width}×${v.height}` : '–';
    els.fps.textContent = v.active && v.fps !== null ? `${Math.round(v.fps)} fps` : '–';
    els.rtt.textContent = v.rtt !== null ? `RTT ${Math.round(v.rtt)} ms` : 'RTT –';
    els.loss.textContent = v.loss !== null ? `loss ${(v.loss * 100).toFixed(v.loss < 0.1 ? 1 : 0)}%` : 'loss –';
    els.audio.textContent = `audio ${bitrateText(v.audioKbps)}`;
    const weak = Boolean(message.weak);
    this.weak.hidden = !weak;
    node.dataset.weak = String(weak);
    const below = (message.below || []).map((key) => BELOW[key] || key);
    this.weak.title = weak
      ? `Camera ${this.camera}'s video is under the usable floor (${below.join(', ') || 'recently'}): ask for photos (R) or switch it to photo mode (V).`
      : '';
    node.title = v.limit && v.limit !== 'none' ? `Camera ${this.camera}'s encoder is limited by ${v.limit}.` : '';
  }
}

export class UplinkPanel {
  constructor() {
    this.box = $('#uplinks');
    this.lines = new Map(); // camera number → UplinkLine
  }

  /** An `uplink` message from the server: that camera's line. */
  update(message) {
    const camera = Number.isInteger(message.camera) ? message.camera : 1;
    let line = this.lines.get(camera);
    if (!line) {
      line = new UplinkLine(camera);
      this.lines.set(camera, line);
      const after = [...this.lines.values()].filter((l) => l.camera > camera).sort((a, b) => a.camera - b.camera)[0];
      this.box.insertBefore(line.node, after ? after.node : null);
    }
    line.update(message);
    clearTimeout(line.timer);
    line.timer = setTimeout(() => this.remove(line), STALE_MS);
  }

  remove(line) {
    clearTimeout(line.timer);
    line.node.remove();
    if (this.lines.get(line.camera) === line) this.lines.delete(line.camera);
  }

  /** A phone left: no numbers for its camera rather than old ones. */
  forget(participantId) {
    for (const line of [...this.lines.values()]) if (line.participant === participantId) this.remove(line);
  }

  /** Nobody is on the phone side: no lines at all. */
  clear() {
    for (const line of [...this.lines.values()]) this.remove(line);
  }
}
