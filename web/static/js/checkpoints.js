// The audit's checkpoints on the console: the template's points in order, which one the
// phone is on, what has been found, and the list in the left column that navigates them.

import { $, ApiError, api, element } from './dom.js';

export const RESULT_LABELS = {
  meets: 'Meets',
  does_not_meet: 'Does not meet',
  not_applicable: 'Not applicable',
  follow_up: 'Follow-up',
};

// A short mark for each state in the list; the words are in the item's accessible name.
const STATE_MARKS = { meets: '✓', does_not_meet: '✗', not_applicable: '–', follow_up: '!' };
const REFRESH_MS = 250;

/** "5.3 · 5.4" */
export function criteriaText(checkpoint) {
  return (checkpoint.criteria || []).join(' · ');
}

/** Captures and photos that count towards the checkpoint's required captures. */
export function evidenceCount(checkpoint) {
  return (checkpoint.captures || 0) + (checkpoint.photos || 0);
}

function captures(n) {
  return `${n} ${n === 1 ? 'capture' : 'captures'}`;
}

/**
 * How many captures (or photos) a checkpoint has against what it needs: "1 of 2 captures",
 * "2 captures (none required)", "No captures needed" (`long`) or "2 captures" (short).
 */
export function captureText(have, required, { long = false } = {}) {
  if (required) return `${have} of ${captures(required)}`;
  if (!have) return long ? 'No captures needed' : '';
  return long ? `${captures(have)} (none required)` : captures(have);
}

/** The list's state: the result once there is one, else current or open. */
export function stateOf(checkpoint, currentKey) {
  if (checkpoint.result) return checkpoint.result;
  return checkpoint.key === currentKey ? 'current' : 'open';
}

/**
 * The walkthrough as the console knows it. Events: `change` (anything changed),
 * `current` (the current checkpoint moved; detail is the key or null), `error` (an Error
 * while loading).
 */
export class Walkthrough extends EventTarget {
  constructor(auditId) {
    super();
    this.base = `/api/audits/${encodeURIComponent(auditId)}`;
    this.template = null;
    this.sections = [];
    this.items = []; // every checkpoint in order, each with `section` (its section's title)
    this.byKey = new Map();
    this.currentKey = null;
    this.available = null; // null while unknown, false when the audit has no template
    this.moves = 0; // `checkpoint` messages seen: a slower GET must not undo them
    this.refreshTimer = 0;
  }

  get current() {
    return this.currentKey ? this.byKey.get(this.currentKey) || null : null;
  }

  get progress() {
    const done = this.items.filter((item) => item.result && item.result !== 'follow_up').length;
    return { done, total: this.items.length };
  }

  /** Checkpoints that completing now would report as not assessed (or still follow-up). */
  get openItems() {
    return this.items.filter((item) => (item.result ? item.result === 'follow_up' : !item.optional));
  }

  async load() {
    const moves = this.moves;
    let body;
    try {
      body = await api(`${this.base}/checkpoints`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'no_template') {
        this.available = false;
        this.emit('change');
        return;
      }
      this.emit('error', error);
      return;
    }
    this.available = true;
    this.template = body.template;
    this.sections = body.sections || [];
    this.items = this.sections.flatMap((section) =>
      section.checkpoints.map((checkpoint) => ({ ...checkpoint, section: section.title })));
    this.byKey = new Map(this.items.map((item) => [item.key, item]));
    if (moves === this.moves) this.currentKey = body.current || null;
    this.emit('error', null);
    this.emit('change');
  }

  /** Load again soon; several triggers in a row cost one request. */
  refresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(), REFRESH_MS);
  }

  /** A `checkpoint` message: the server moved everyone to this checkpoint. */
  moved(checkpoint) {
    this.moves += 1;
    const key = checkpoint ? checkpoint.key : null;
    if (key && !this.byKey.has(key)) this.refresh();
    if (key === this.currentKey) return;
    this.currentKey = key;
    this.emit('current', key);
    this.emit('change');
  }

  /** A result was stored (by us or by another auditor). */
  recorded({ key, result, note, corrective_action: action, due_date: due }) {
    const item = this.byKey.get(key);
    if (!item) return;
    item.result = result;
    if (note !== undefined) item.note = note;
    if (action !== undefined) item.corrective_action = action;
    if (due !== undefined) item.due_date = due;
    this.emit('change');
  }

  /** An evidence item arrived; counts come from the server, which binds it. */
  evidenceAdded(item) {
    if (item && item.checkpoint && this.byKey.has(item.checkpoint)) this.refresh();
  }

  /** The checkpoint `delta` steps from the current one (the first one when none is current). */
  neighbour(delta) {
    if (this.items.length === 0) return null;
    const index = this.items.findIndex((item) => item.key === this.currentKey);
    if (index < 0) return delta > 0 ? this.items[0] : null;
    return this.items[index + delta] || null;
  }

  titleOf(key) {
    const item = key && this.byKey.get(key);
    return item ? item.title : key || '';
  }

  /** PUT a result; resolves to the stored row, or throws ApiError (409 captures_required…). */
  async saveResult(key, body) {
    const row = await api(`${this.base}/checkpoints/${encodeURIComponent(key)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    this.recorded(row || { key, ...body });
    return row;
  }

  /** Make `key` current over HTTP: for when the signaling socket is down. */
  async gotoOverHttp(key) {
    await api(`${this.base}/current`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ key }),
    });
    this.moved(key ? { key } : null);
  }

  emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function listItem(item, currentKey, go) {
  const state = stateOf(item, currentKey);
  const node = element('li', 'cp-item');
  node.dataset.testid = 'checkpoint';
  node.dataset.key = item.key;
  node.dataset.state = state;
  if (item.key === currentKey) node.setAttribute('aria-current', 'step');

  const button = element('button', 'cp-link');
  button.type = 'button';
  button.addEventListener('click', () => go(item.key));
  const mark = element('span', 'cp-mark', STATE_MARKS[item.result] || String(item.index + 1));
  mark.setAttribute('aria-hidden', 'true');

  // The name is the visible text plus hidden number and state, so what a speech user
  // reads on the button is what their software knows it by (WCAG 2.5.3).
  const main = element('span', 'cp-main');
  main.append(element('span', 'visually-hidden', `${item.index + 1}. `), element('span', 'cp-name', item.title));
  const meta = element('span', 'cp-meta');
  if (item.criteria && item.criteria.length) meta.append(element('span', 'cp-criteria', criteriaText(item)));
  meta.append(element('span', `level level-${item.level}`, item.level === 'must' ? 'MUST' : 'SHOULD'));
  if (item.optional) meta.append(element('span', 'cp-optional', 'optional'));
  const have = evidenceCount(item);
  if (item.captures_required || have) {
    const count = element('span', 'cp-captures', captureText(have, item.captures_required));
    count.dataset.complete = String(have >= item.captures_required);
    count.title = item.captures_required
      ? `Captures and photos: ${have} of the ${item.captures_required} needed to mark it meets`
      : 'Captures and photos of this checkpoint; none are needed to mark it meets';
    meta.append(count);
  }
  main.append(meta);

  const status = item.result ? RESULT_LABELS[item.result] : state === 'current' ? 'current' : 'open';
  main.append(element('span', 'visually-hidden', `, ${status}`));
  button.append(mark, main);
  node.append(button);
  return node;
}

/** The left column: progress and every checkpoint by section; a click goes there. */
export class CheckpointList {
  constructor(walkthrough, go) {
    this.walk = walkthrough;
    this.go = go;
    this.els = {
      column: $('#walk'),
      template: $('#walk-template'),
      progress: $('#walk-progress'),
      bar: $('#walk-progress-bar'),
      list: $('#walk-list'),
      error: $('#walk-error'),
      errorText: $('#walk-error-text'),
      retry: $('#walk-retry'),
      complete: $('#complete-audit'),
    };
    this.els.retry.addEventListener('click', () => walkthrough.load());
    walkthrough.addEventListener('change', () => this.render());
    walkthrough.addEventListener('current', () => this.scrollToCurrent());
    walkthrough.addEventListener('error', ({ detail }) => this.showError(detail));
  }

  render() {
    const walk = this.walk;
    const { done, total } = walk.progress;
    const template = walk.template;
    // Audits made without a checkpoint template have no walk to direct.
    document.body.classList.toggle('no-walk', walk.available === false);
    this.els.template.textContent = template ? `${template.title} · v${template.version}` : '';
    this.els.progress.textContent = `${done} of ${total} assessed`;
    this.els.bar.max = Math.max(total, 1);
    this.els.bar.value = done;
    const sections = walk.sections.map((section) => {
      const node = element('li', 'cp-section');
      const items = walk.items.filter((item) => section.checkpoints.some((cp) => cp.key === item.key));
      const list = element('ol', 'cp-items');
      list.append(...items.map((item) => listItem(item, walk.currentKey, this.go)));
      node.append(element('h3', 'cp-section-title', section.title), list);
      return node;
    });
    this.els.list.replaceChildren(...sections);
    // Everything has a final result: completing is what is left to do.
    this.els.complete.classList.toggle('btn-primary', total > 0 && walk.openItems.length === 0);
  }

  scrollToCurrent() {
    const node = this.els.list.querySelector('[aria-current="step"]');
    if (node) node.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  showError(error) {
    this.els.errorText.textContent = error ? `The checkpoints could not be loaded: ${error.message}` : '';
    this.els.error.hidden = !error;
  }
}
