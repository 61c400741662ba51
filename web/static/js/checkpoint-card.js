// The current checkpoint on the console: what to look for, what the phone is told, and the
// auditor's result with a note (and for a finding, the corrective action and its due date).

import { RESULT_LABELS, criteriaText, evidenceCount } from './checkpoints.js';
import { $, element, setPressed } from './dom.js';

const SAVED_MS = 2_500;

export class CheckpointCard {
  /** `go(key)` makes a checkpoint current. */
  constructor(walkthrough, go) {
    this.walk = walkthrough;
    this.go = go;
    this.shownKey = undefined;
    this.readOnly = false;
    this.saving = false;
    this.savedTimer = 0;
    this.els = {
      card: $('#cp-card'),
      step: $('#cp-step'),
      title: $('#cp-title'),
      tags: $('#cp-tags'),
      empty: $('#cp-empty'),
      body: $('#cp-body'),
      guidance: $('#cp-guidance'),
      instruction: $('#cp-instruction'),
      captures: $('#cp-captures'),
      results: [...document.querySelectorAll('[data-result]')],
      error: $('#cp-error'),
      note: $('#cp-note'),
      finding: $('#cp-finding'),
      action: $('#cp-action'),
      due: $('#cp-due'),
      save: $('#cp-save'),
      status: $('#cp-status'),
      prev: $('#cp-prev'),
      next: $('#cp-next'),
    };
    for (const button of this.els.results) {
      button.addEventListener('click', () => this.save(button.dataset.result));
    }
    this.els.save.addEventListener('click', () => this.save(this.current && this.current.result));
    for (const field of [this.els.note, this.els.action, this.els.due]) {
      field.addEventListener('input', () => this.renderSave());
    }
    this.els.prev.addEventListener('click', () => this.step(-1));
    this.els.next.addEventListener('click', () => this.step(1));
    walkthrough.addEventListener('change', () => this.render());
  }

  get current() {
    return this.walk.current;
  }

  /** Go to the previous (-1) or next (+1) checkpoint. */
  step(delta) {
    if (this.readOnly) return;
    const target = this.walk.neighbour(delta);
    if (target) this.go(target.key);
  }

  setReadOnly(readOnly) {
    this.readOnly = readOnly;
    this.render();
  }

  render() {
    const els = this.els;
    const walk = this.walk;
    els.card.hidden = walk.available === false;
    const item = this.current;
    els.empty.hidden = Boolean(item);
    els.body.hidden = !item;
    els.tags.hidden = !item;
    els.prev.disabled = this.readOnly || !walk.neighbour(-1);
    els.next.disabled = this.readOnly || !walk.neighbour(1);
    // Once this one has a result, moving on is the likely next step.
    els.next.classList.toggle('btn-primary', Boolean(item && item.result));
    if (!item) {
      els.step.textContent = walk.items.length ? `${walk.items.length} checkpoints` : '';
      els.title.textContent = walk.available === null ? 'Loading checkpoints…' : 'No checkpoint selected';
      this.shownKey = null;
      return;
    }
    els.step.textContent = `${item.index + 1} of ${walk.items.length} · ${item.section}`;
    els.title.textContent = item.title;
    this.renderTags(item);
    els.guidance.textContent = item.guidance || 'No guidance in the template for this checkpoint.';
    els.instruction.textContent = item.instruction || '—';
    const have = evidenceCount(item);
    els.captures.textContent = item.captures_required
      ? `${have} of ${item.captures_required} required capture(s)`
      : `${have} capture(s) · none required`;
    els.captures.dataset.complete = String(have >= item.captures_required);
    for (const button of els.results) {
      setPressed(button, button.dataset.result === item.result);
      button.disabled = this.readOnly || this.saving;
    }
    if (this.shownKey !== item.key) {
      // Another checkpoint: its own saved note, not what was typed for the last one.
      this.shownKey = item.key;
      els.note.value = item.note || '';
      els.action.value = item.corrective_action || '';
      els.due.value = item.due_date || '';
      this.showError('');
      this.showStatus('');
    }
    for (const field of [els.note, els.action, els.due]) field.disabled = this.readOnly;
    this.renderSave();
  }

  renderTags(item) {
    const tags = [];
    if (item.criteria && item.criteria.length) {
      const criteria = element('span', 'tag tag-criteria', criteriaText(item));
      criteria.title = 'CTPAT criteria';
      tags.push(criteria);
    }
    tags.push(element('span', `level level-${item.level}`, item.level === 'must' ? 'MUST' : 'SHOULD'));
    if (item.optional) tags.push(element('span', 'tag', 'Optional'));
    if (item.kind === 'identity') tags.push(element('span', 'tag', 'Identity check'));
    if (item.result) {
      const result = element('span', 'tag tag-result', RESULT_LABELS[item.result]);
      result.dataset.result = item.result;
      tags.push(result);
    }
    this.els.tags.replaceChildren(...tags);
  }

  /** The note fields as the server would store them. */
  fields(result) {
    const body = { result, note: this.els.note.value.trim() || null };
    if (result === 'does_not_meet') {
      body.corrective_action = this.els.action.value.trim() || null;
      body.due_date = this.els.due.value || null;
    }
    return body;
  }

  dirty(item) {
    if (!item || !item.result) return false;
    const now = this.fields(item.result);
    const same = (a, b) => (a || null) === (b || null);
    if (!same(now.note, item.note)) return true;
    return item.result === 'does_not_meet'
      && (!same(now.corrective_action, item.corrective_action) || !same(now.due_date, item.due_date));
  }

  renderSave() {
    const item = this.current;
    const els = this.els;
    els.finding.hidden = !item || item.result !== 'does_not_meet';
    // The note of a checkpoint that has a result is saved on its own when it changes.
    els.save.hidden = !this.dirty(item);
    els.save.disabled = this.readOnly || this.saving;
  }

  async save(result) {
    const item = this.current;
    if (!item || !result || this.readOnly || this.saving) return;
    this.saving = true;
    this.showError('');
    this.showStatus('Saving…');
    this.render();
    try {
      await this.walk.saveResult(item.key, this.fields(result));
      this.showStatus(`Saved: ${RESULT_LABELS[result]}`, { fade: true });
      if (result === 'does_not_meet' && !this.els.action.value.trim()) this.els.action.focus();
    } catch (error) {
      this.showStatus('');
      this.showError(error.code === 'captures_required'
        ? `${error.message}. Capture it (C) or ask for a photo (R), then mark it again.`
        : `Not saved: ${error.message}`);
    } finally {
      this.saving = false;
      this.render();
    }
  }

  showError(text) {
    this.els.error.textContent = text;
    this.els.error.hidden = !text;
  }

  showStatus(text, { fade = false } = {}) {
    clearTimeout(this.savedTimer);
    this.els.status.textContent = text;
    if (fade) this.savedTimer = setTimeout(() => { this.els.status.textContent = ''; }, SAVED_MS);
  }
}
