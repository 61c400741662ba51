// Completing the audit from the console: confirm the checkpoints still open, freeze the
// outcome, show it with a link to the report, and make the console read-only.

import { $, api, element } from './dom.js';

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
    this.els = {
      button: $('#complete-audit'),
      error: $('#complete-error'),
      dialog: $('#complete-dialog'),
      openList: $('#complete-open-list'),
      openCount: $('#complete-open-count'),
      confirm: $('#complete-confirm'),
      panel: $('#outcome'),
      result: $('#outcome-result'),
      score: $('#outcome-score'),
      summary: $('#outcome-summary'),
      report: $('#outcome-report'),
    };
    this.els.button.addEventListener('click', () => this.complete(false));
    this.els.confirm.addEventListener('click', () => {
      this.els.dialog.close();
      this.complete(true);
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

  async complete(confirmOpen) {
    if (this.busy || this.completed) return;
    this.busy = true;
    this.showError('');
    this.els.button.disabled = true;
    this.els.button.setAttribute('aria-busy', 'true');
    try {
      const outcome = await api(`${this.base}/complete`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ confirm_open: confirmOpen }),
      });
      this.show(outcome);
    } catch (error) {
      if (error.code === 'open_checkpoints' && !confirmOpen) this.confirmOpen(error.message);
      else if (error.code === 'audit_completed') this.load();
      else this.showError(`The audit was not completed: ${error.message}`);
    } finally {
      this.busy = false;
      this.els.button.removeAttribute('aria-busy');
      this.els.button.disabled = this.completed;
    }
  }

  /** The server refused because checkpoints are open: list them and ask. */
  confirmOpen(message) {
    const open = this.walk.openItems;
    this.els.openCount.textContent = open.length
      ? `${open.length} checkpoint(s) have no final result.`
      : message;
    this.els.openList.replaceChildren(...open.map((item) => {
      const row = element('li', `level-row level-row-${item.level}`);
      row.append(element('span', null, `${item.index + 1}. ${item.title}`));
      const state = item.result === 'follow_up' ? 'follow-up' : 'not assessed';
      row.append(element('span', 'muted small', ` — ${item.level === 'must' ? 'MUST' : 'SHOULD'}, ${state}`));
      return row;
    }));
    this.els.dialog.showModal();
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
