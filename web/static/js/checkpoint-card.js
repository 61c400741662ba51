// The current checkpoint on the console: what to look for, what the phone is told, and the
// auditor's result with a note (and for a finding, the corrective action and its due date).
// A note is never lost: it is saved when the field loses focus and before moving to another
// checkpoint; one typed before there is a result is kept on this computer until there is.

import { RESULT_LABELS, captureText, criteriaText, evidenceCount } from './checkpoints.js';
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
    this.queue = Promise.resolve(); // note saves, one after the other
    this.pending = 0; // note saves sent and not answered yet
    this.failed = null; // {key, title, body} of the last note save that failed
    this.drafts = new NoteDrafts(walkthrough.base);
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
      retry: $('#cp-retry'),
      prev: $('#cp-prev'),
      next: $('#cp-next'),
    };
    for (const button of this.els.results) {
      button.addEventListener('click', () => this.save(button.dataset.result));
    }
    this.els.save.addEventListener('click', () => this.flush());
    this.els.retry.addEventListener('click', () => this.retry());
    for (const field of [this.els.note, this.els.action, this.els.due]) {
      field.addEventListener('input', () => this.edited());
      field.addEventListener('blur', () => this.flush());
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

  /** Whether a note typed here is not on the server yet (for the page's unload warning). */
  get unsaved() {
    return this.pending > 0 || Boolean(this.failed) || this.dirty(this.current);
  }

  edited() {
    const item = this.current;
    if (item && !item.result) {
      this.drafts.keep(item.key, this.els.note.value);
      this.showStatus(this.els.note.value.trim() ? 'Note kept on this computer: it is saved with the result' : '');
    }
    this.renderSave();
  }

  /**
   * Save what was typed for the checkpoint shown (on blur, before navigating, on Save):
   * returns once the server has it, or has refused it (then Retry is offered).
   */
  flush() {
    const item = this.current;
    if (!item || this.readOnly || !item.result || !this.dirty(item)) return this.queue;
    return this.send(item, this.fields(item.result));
  }

  send(item, body) {
    const key = item.key;
    const title = item.title;
    this.pending += 1;
    this.failed = null;
    this.showStatus('Saving…');
    this.renderSave();
    this.queue = this.queue.then(async () => {
      try {
        await this.walk.saveResult(key, body);
        this.drafts.drop(key);
        if (!this.failed) {
          const here = this.current && this.current.key === key;
          this.showStatus(here ? 'Saved' : `Note on “${title}” saved`, { fade: true });
        }
      } catch (error) {
        this.failed = { key, title, body };
        this.showStatus(`Note on “${title}” not saved: ${error.message}`, { failed: true });
      } finally {
        this.pending -= 1;
        this.renderSave();
      }
    });
    return this.queue;
  }

  retry() {
    const failed = this.failed;
    if (!failed || this.readOnly) return;
    const item = this.walk.byKey.get(failed.key);
    if (item) this.send(item, failed.body);
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
    els.captures.textContent = captureText(have, item.captures_required, { long: true });
    els.captures.dataset.complete = String(have >= item.captures_required);
    for (const button of els.results) {
      setPressed(button, button.dataset.result === item.result);
      button.disabled = this.readOnly || this.saving;
    }
    if (this.shownKey !== item.key) {
      // Another checkpoint: its own saved note, not what was typed for the last one.
      this.shownKey = item.key;
      els.note.value = item.note || (item.result ? '' : this.drafts.get(item.key));
      els.action.value = item.corrective_action || '';
      els.due.value = item.due_date || '';
      this.showError('');
      // A save of the last checkpoint's note still says how it went.
      if (!this.pending && !this.failed) this.showStatus('');
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
    els.save.hidden = !this.dirty(item) || this.pending > 0;
    els.save.disabled = this.readOnly || this.saving;
    els.retry.hidden = !this.failed || this.readOnly;
  }

  async save(result) {
    const item = this.current;
    if (!item || !result || this.readOnly || this.saving) return;
    this.saving = true;
    this.showError('');
    this.showStatus('Saving…');
    this.render();
    try {
      const body = this.fields(result);
      await this.queue; // a note save still on its way lands first
      await this.walk.saveResult(item.key, body);
      this.drafts.drop(item.key);
      if (this.failed && this.failed.key === item.key) this.failed = null;
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

  showStatus(text, { fade = false, failed = false } = {}) {
    clearTimeout(this.savedTimer);
    this.els.status.textContent = text;
    this.els.status.dataset.failed = String(failed);
    if (fade) this.savedTimer = setTimeout(() => { this.els.status.textContent = ''; }, SAVED_MS);
  }
}

/** Notes typed before a checkpoint has a result: kept in this browser until the result is saved. */
class NoteDrafts {
  constructor(prefix) {
    this.prefix = `vaudit-note:${prefix}:`;
  }

  get(key) {
    try {
      return localStorage.getItem(this.prefix + key) || '';
    } catch {
      return '';
    }
  }

  keep(key, text) {
    try {
      if (text.trim()) localStorage.setItem(this.prefix + key, text);
      else localStorage.removeItem(this.prefix + key);
    } catch {
      // Storage full or disabled: the note stays in the field until a result is chosen.
    }
  }

  drop(key) {
    this.keep(key, '');
  }
}
