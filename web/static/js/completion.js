// Completing the audit from the console: always confirmed in a dialog that lists the
// checkpoints still open, the photos still waiting on a phone, and asks the written reasons
// the server needs (camera never live, a MUST checkpoint not applicable, photos not uploaded);
// then show the outcome with a link to the report and make the console read-only.

import { $, api, element } from './dom.js';

const NEVER_LIVE = 'The facility camera never went live: no video reached the server';
const QUEUED = 'Photos taken on the facility phone not uploaded yet: completing now leaves them on the phone, never in the audit';
const ago = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "2 photos taken on the facility phone have not reached the server (Rahim: 2, reported 3 minutes ago)." */
export function queuedText(queued) {
  const where = queued.phones.length > 1 ? 'the facility phones' : 'the facility phone';
  const photos = queued.count === 1 ? `1 photo taken on ${where} has` : `${queued.count} photos taken on ${where} have`;
  const phones = queued.phones.map((phone) => {
    const minutes = Math.round((Date.parse(phone.reported_at) - Date.now()) / 60_000);
    return `${phone.name || 'a phone'}: ${phone.count}, reported ${ago.format(minutes, 'minute')}`;
  });
  return `${photos} not reached the server (${phones.join('; ')}).`;
}
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

/** "92.9 %" or "—" when nothing was applicable. */
export function scoreText(score) {
  return Number.isFinite(score) ? percent.format(score) : '—';
}

export class Completion extends EventTarget {
  /** Fires `completed` (detail: the outcome) once the audit is completed, here or elsewhere. */
  constructor(auditId, walkthrough) {
    super();
    this.auditId = auditId;
    this.base = `/api/audits/${encodeURIComponent(auditId)}`;
    this.walk = walkthrough;
    this.outcome = null;
    this.busy = false;
    this.labels = new Map(); // reason key -> what it explains
    this.els = {
      button: $('#complete-audit'),
      error: $('#complete-error'),
      dialog: $('#complete-dialog'),
      form: $('#complete-form'),
      open: $('#complete-open'),
      openList: $('#complete-open-list'),
      openCount: $('#complete-open-count'),
      reasons: $('#complete-reasons'),
      queued: $('#complete-queued'),
      queuedText: $('#complete-queued-text'),
      reasonFields: $('#complete-reason-fields'),
      dialogError: $('#complete-dialog-error'),
      cancel: $('#complete-cancel'),
      confirm: $('#complete-confirm'),
      panel: $('#outcome'),
      result: $('#outcome-result'),
      score: $('#outcome-score'),
      summary: $('#outcome-summary'),
      report: $('#outcome-report'),
    };
    this.els.button.addEventListener('click', () => this.ask());
    this.els.cancel.addEventListener('click', () => this.els.dialog.close());
    this.els.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.complete();
    });
    this.els.report.href = `/audits/${encodeURIComponent(auditId)}/report`;
  }

  get completed() {
    return this.outcome !== null;
  }

  /** The audit as it is now: shows the outcome when it was completed before this page opened. */
  async load() {
    try {
      const audit = await api(this.base);
      if (audit && audit.status === 'completed') this.show(audit.outcome || {});
    } catch {
      // The live session reports a completed audit as well (close code 4409).
    }
  }

  /** Completing always asks first: what is still open, and the reasons the server needs. */
  async ask() {
    if (this.busy || this.completed) return;
    this.showError('');
    this.busy = true;
    this.els.button.setAttribute('aria-busy', 'true');
    let preview = null;
    try {
      preview = await api(`${this.base}/complete`);
    } catch (error) {
      if (error.code === 'audit_completed') {
        this.load();
        return;
      }
      // Ask with what the console knows; the server says what is missing on submit.
    } finally {
      this.busy = false;
      this.els.button.removeAttribute('aria-busy');
    }
    this.renderOpen(preview ? preview.open_checkpoints : this.walk.openItems);
    this.renderQueued(preview ? preview.photos_queued : null);
    this.els.reasonFields.replaceChildren();
    this.labels.clear();
    this.addReasons(preview ? preview.reasons_required : []);
    this.showDialogError('');
    this.els.dialog.showModal();
    const first = this.els.reasonFields.querySelector('textarea');
    (first || this.els.cancel).focus();
  }

  async complete() {
    if (this.busy || this.completed) return;
    const reasons = this.reasons();
    const missing = [...this.labels.keys()].filter((key) => !reasons[key]);
    if (missing.length) {
      this.showDialogError('Write a reason in each field before completing.');
      this.els.reasonFields.querySelector(`[data-key="${CSS.escape(missing[0])}"]`).focus();
      return;
    }
    this.busy = true;
    this.showDialogError('');
    this.els.confirm.disabled = true;
    this.els.confirm.setAttribute('aria-busy', 'true');
    try {
      const outcome = await api(`${this.base}/complete`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ confirm_open: true, reasons }),
      });
      this.els.dialog.close();
      this.show(outcome);
    } catch (error) {
      if (error.code === 'reason_required') {
        // Something changed since the dialog opened: ask for the reasons the server lists.
        this.addReasons((error.details.keys || []).map((key) => ({ key, label: this.reasonLabel(key) })));
        this.showDialogError(error.message);
      } else if (error.code === 'audit_completed') {
        this.els.dialog.close();
        this.load();
      } else this.showDialogError(`The audit was not completed: ${error.message}`);
    } finally {
      this.busy = false;
      this.els.confirm.disabled = false;
      this.els.confirm.removeAttribute('aria-busy');
      this.els.button.disabled = this.completed;
    }
  }

  /** The checkpoints still open, from the server's preview or the console's own list. */
  renderOpen(open) {
    this.els.open.hidden = open.length === 0;
    this.els.confirm.textContent = open.length ? 'Complete anyway' : 'Complete audit';
    this.els.openCount.textContent = `${open.length} ${open.length === 1 ? 'checkpoint has' : 'checkpoints have'} no final result.`;
    this.els.openList.replaceChildren(...open.map((item) => {
      const known = this.walk.byKey.get(item.key) || item;
      const row = element('li', `level-row level-row-${known.level}`);
      const number = Number.isInteger(known.index) ? `${known.index + 1}. ` : '';
      row.append(element('span', null, `${number}${known.title}`));
      const state = (item.state || known.result) === 'follow_up' ? 'follow-up' : 'not assessed';
      row.append(element('span', 'muted small', ` — ${known.level === 'must' ? 'MUST' : 'SHOULD'}, ${state}`));
      return row;
    }));
  }

  reasonLabel(key) {
    if (key === 'never_live') return NEVER_LIVE;
    if (key === 'photos_queued') return QUEUED;
    return `${this.walk.titleOf(key)}: a MUST checkpoint marked not applicable`;
  }

  /** Photos the phones last reported as not uploaded: they stay on the phone once completed. */
  renderQueued(queued) {
    const shown = Boolean(queued && queued.count > 0);
    this.els.queued.hidden = !shown;
    this.els.queued.dataset.count = shown ? String(queued.count) : '0';
    this.els.queuedText.textContent = shown ? queuedText(queued) : '';
  }

  /** One labelled text field per reason to give; a key already shown keeps what was typed. */
  addReasons(items) {
    for (const { key, label } of items) {
      if (this.labels.has(key)) continue;
      this.labels.set(key, label);
      const id = `complete-reason-${this.labels.size}`;
      const field = element('div', 'field reason-field');
      const caption = element('label', null, label);
      caption.htmlFor = id;
      const text = element('textarea');
      text.id = id;
      text.rows = 2;
      text.maxLength = 2000;
      text.required = true;
      text.dataset.key = key;
      text.dataset.testid = `complete-reason-${key}`;
      field.append(caption, text);
      this.els.reasonFields.append(field);
    }
    this.els.reasons.hidden = this.labels.size === 0;
  }

  reasons() {
    const out = {};
    for (const text of this.els.reasonFields.querySelectorAll('textarea')) {
      if (text.value.trim()) out[text.dataset.key] = text.value.trim();
    }
    return out;
  }

  showDialogError(text) {
    this.els.dialogError.textContent = text;
    this.els.dialogError.hidden = !text;
  }

  /** The audit-completed message, or our own request's answer. */
  show(outcome) {
    const first = !this.completed;
    this.outcome = outcome;
    const els = this.els;
    const passed = outcome.result === 'pass';
    els.panel.hidden = false;
    els.panel.dataset.result = outcome.result || 'unknown';
    els.result.textContent = outcome.result ? (passed ? 'PASS' : 'FAIL') : 'Completed';
    els.score.textContent = `Score ${scoreText(outcome.score)}`;
    els.summary.textContent = summaryText(outcome);
    els.button.disabled = true;
    els.button.hidden = true;
    if (first) this.dispatchEvent(new CustomEvent('completed', { detail: outcome }));
  }

  showError(text) {
    this.els.error.textContent = text;
    this.els.error.hidden = !text;
  }
}

function summaryText(outcome) {
  const counts = outcome.counts || {};
  const parts = [];
  if (counts.meets) parts.push(`${counts.meets} meet`);
  if (counts.does_not_meet) parts.push(`${counts.does_not_meet} do not meet`);
  if (counts.not_applicable) parts.push(`${counts.not_applicable} not applicable`);
  if (counts.follow_up) parts.push(`${counts.follow_up} follow-up`);
  if (counts.not_assessed) parts.push(`${counts.not_assessed} not assessed`);
  const findings = (outcome.findings || []).length;
  if (findings) parts.push(`${findings} finding(s) with corrective actions`);
  return parts.length ? `${parts.join(' · ')}.` : 'The audit is completed.';
}
