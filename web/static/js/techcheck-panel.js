// Console: the facility's latest tech check (camera, microphone, server, upload speed), run
// from the invite link before the audit.

import { $, api, element, formatDateTime } from './dom.js';

const integer = new Intl.NumberFormat();

/** Upload speed that carries 720p video with room to spare; the phone's check uses it too. */
export const UPLOAD_OK_KBPS = 1_500;

function mark(ok) {
  if (ok === true) return ['✓', 'ok'];
  if (ok === false) return ['✗', 'fail'];
  return ['?', 'unknown'];
}

function row(label, ok, detail) {
  const [symbol, status] = mark(ok);
  const node = element('li', 'tc-row');
  node.dataset.status = status;
  const icon = element('span', 'tc-mark', symbol);
  icon.setAttribute('aria-label', status === 'ok' ? 'passed' : status === 'fail' ? 'failed' : 'not tested');
  node.append(icon, element('span', 'tc-label', label), element('span', 'tc-detail muted', detail || ''));
  return node;
}

/** "Chrome 126 on Android" from a user agent string, or '' when it is not recognisable. */
export function deviceText(userAgent) {
  const ua = String(userAgent || '');
  const os = [['Android', /Android/], ['iPhone', /iPhone/], ['iPad', /iPad/], ['Windows', /Windows/], ['macOS', /Mac OS X/], ['Linux', /Linux/]]
    .find(([, pattern]) => pattern.test(ua));
  const browser = [['Edge', /Edg\/(\d+)/], ['Samsung Internet', /SamsungBrowser\/(\d+)/], ['Chrome', /(?:Chrome|CriOS)\/(\d+)/],
    ['Firefox', /(?:Firefox|FxiOS)\/(\d+)/], ['Safari', /Version\/(\d+).*Safari/]]
    .map(([name, pattern]) => [name, ua.match(pattern)]).find(([, found]) => found);
  const parts = [];
  if (browser) parts.push(`${browser[0]} ${browser[1][1]}`);
  if (os) parts.push(`on ${os[0]}`);
  return parts.join(' ');
}

export class TechCheckPanel {
  constructor(auditId) {
    this.url = `/api/audits/${encodeURIComponent(auditId)}/tech-checks`;
    this.els = {
      list: $('#techcheck-list'),
      when: $('#techcheck-when'),
      empty: $('#techcheck-empty'),
      error: $('#techcheck-error'),
    };
  }

  async load() {
    try {
      const body = await api(this.url);
      const items = (body && body.items) || [];
      const latest = items.reduce((best, item) => (!best || item.created_at > best.created_at ? item : best), null);
      this.render(latest);
      this.els.error.hidden = true;
    } catch (error) {
      this.els.error.textContent = `The tech check could not be loaded: ${error.message}`;
      this.els.error.hidden = false;
    }
  }

  render(check) {
    const els = this.els;
    els.empty.hidden = Boolean(check);
    els.list.hidden = !check;
    els.when.hidden = !check;
    if (!check) return;
    const r = check.results || {};
    const rtt = Number.isFinite(r.rtt_ms) ? `${integer.format(Math.round(r.rtt_ms))} ms` : '';
    const upload = Number.isFinite(r.upload_kbps) ? `${integer.format(Math.round(r.upload_kbps))} kbit/s` : '';
    const uploadOk = Number.isFinite(r.upload_kbps) ? r.upload_kbps >= UPLOAD_OK_KBPS : null;
    els.list.replaceChildren(
      row('Camera', r.camera, r.video || ''),
      row('Microphone', r.microphone, ''),
      row('Server', r.server, rtt ? `RTT ${rtt}` : ''),
      row('Upload', uploadOk, upload),
    );
    const device = deviceText(r.user_agent);
    els.when.textContent = `Checked ${formatDateTime(check.created_at)}${device ? ` · ${device}` : ''}`;
    els.when.title = r.user_agent || '';
  }
}
