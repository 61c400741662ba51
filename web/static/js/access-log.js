// Report page: the audit's access log (who read its evidence or changed its sharing),
// newest first, one page at a time with "Load older".

import { $, api, element, formatDateTime } from './dom.js';

/** The access log's actions in plain words (server/access.py, AccessAction). */
export const ACTION_WORDS = {
  view_image: 'viewed a picture',
  view_recording: 'downloaded recording',
  replay: 'watched the replay',
  export: 'downloaded the export',
  share: 'shared with',
  unshare: 'stopped sharing with',
};

const ROLE_WORDS = {
  admin: 'Administrator', auditor: 'Auditor', reviewer: 'Reviewer', member: 'Member', agency: 'Agency',
};
const KIND_WORDS = { association: 'Association', 'audit-firm': 'Audit firm', member: 'Member', agency: 'Agency' };

/** A table cell with a main line and an optional muted second line. */
function cell(label, main, detail) {
  const td = element('td');
  td.dataset.label = label;
  td.append(main);
  if (detail) td.append(element('span', 'cell-detail', detail));
  return td;
}

function row(item) {
  const tr = element('tr');
  tr.dataset.testid = 'access-log-row';
  tr.dataset.action = item.action;
  const time = element('time', '', formatDateTime(item.at) || item.at);
  time.dateTime = item.at;
  time.title = item.at;
  const user = item.user || {};
  const org = item.org || {};
  const role = [KIND_WORDS[org.kind] || org.kind, ROLE_WORDS[item.role] || item.role].filter(Boolean).join(' · ');
  const words = ACTION_WORDS[item.action] || item.action;
  const sharing = item.action === 'share' || item.action === 'unshare';
  tr.append(
    cell('When', time),
    cell('Who', user.name || user.email || 'Unknown', user.name ? user.email : ''),
    cell('Organisation', org.name || '—', role),
    // Sharing names the organisation in one sentence; reads name what was read below.
    cell('Did', sharing ? `${words} ${item.target}` : words, sharing ? '' : item.target),
    cell('Address', item.address || '—'),
  );
  return tr;
}

export class AccessLog {
  constructor(auditId) {
    this.url = `/api/audits/${encodeURIComponent(auditId)}/access-log`;
    this.next = null;
    this.loading = false;
    this.els = {
      rows: $('#access-log-rows'),
      empty: $('#access-log-empty'),
      error: $('#access-log-error'),
      more: $('#access-log-more'),
    };
    this.els.more.addEventListener('click', () => this.load({ older: true }));
  }

  /** The newest page, or (older) the page after the last one shown. */
  async load({ older = false } = {}) {
    if (this.loading) return;
    this.loading = true;
    const els = this.els;
    els.more.disabled = true;
    const cursor = older && this.next ? `?cursor=${encodeURIComponent(this.next)}` : '';
    try {
      const page = await api(this.url + cursor);
      const rows = page.items.map(row);
      if (older) els.rows.append(...rows);
      else els.rows.replaceChildren(...rows);
      this.next = page.next;
      els.error.hidden = true;
      if (older && rows.length && !page.next) {
        // The button goes away with the last page: keep the keyboard where the new rows start.
        rows[0].tabIndex = -1;
        rows[0].focus();
      }
    } catch (error) {
      els.error.textContent = `The access log could not be loaded: ${error.message}`;
      els.error.hidden = false;
    } finally {
      this.loading = false;
      els.more.disabled = false;
      els.more.hidden = !this.next;
      els.empty.hidden = els.rows.children.length > 0;
    }
  }
}
