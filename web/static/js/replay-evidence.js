// Beside and below the replayed video: the stills the recorder kept once a second, the
// ones nearest the playhead; and the auditor's captures and photos, each with where it
// stands in the evidence ledger and a way to have the server check it again now.

import { overlayToggle } from './annotate.js';
import { api, element } from './dom.js';
import { clock, kindLabel } from './replay-timeline.js';

const STILLS_SHOWN = 7;

const CHECKS = [
  ['file_matches_hash', 'The stored file still has its recorded SHA-256'],
  ['in_ledger', 'The item has an entry in the evidence ledger'],
  ['ledger_hash_matches', 'The ledger entry names the same SHA-256'],
  ['tree_head_signed', 'The tree head is signed with the server key'],
  ['inclusion_proof', 'The inclusion proof leads to the signed root'],
];

const BADGES = {
  signed: ['Signed', 'In the ledger, covered by a signed tree head'],
  pending: ['Awaiting signature', 'Not yet covered by a signed tree head (heads are signed every few seconds while live, and at completion)'],
  checking: ['Checking…', 'The server is checking this item again'],
  verified: ['Verified', 'Checked again just now: every check passed'],
  failed: ['Verification failed', 'Checked again just now: a check failed'],
};

const timeOfDay = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** Local wall-clock time of an ISO timestamp, with seconds. */
export function wallClock(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : timeOfDay.format(date);
}

/** Index of the last item (sorted by offset) at or before `t`; 0 when all are later. */
export function indexAtOrBefore(items, t) {
  let lo = 0;
  let hi = items.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].offset <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

/** The stills nearest the playhead, the current one highlighted; a click seeks to one. */
export class StillsStrip {
  constructor(list, empty, stills, seek) {
    this.list = list;
    this.stills = stills;
    this.seek = seek;
    this.nodes = new Map(); // still id → <li>, kept while shown so pictures are not reloaded
    this.current = -1;
    list.hidden = stills.length === 0;
    empty.hidden = stills.length > 0;
  }

  /** The still nearest a time, or null. */
  at(t) {
    return this.stills.length ? this.stills[indexAtOrBefore(this.stills, t)] : null;
  }

  update(t) {
    if (!this.stills.length) return;
    const index = indexAtOrBefore(this.stills, t);
    if (index === this.current) return;
    this.current = index;
    const first = Math.max(0, Math.min(index - (STILLS_SHOWN >> 1), this.stills.length - STILLS_SHOWN));
    const shown = this.stills.slice(first, first + STILLS_SHOWN);
    const nodes = new Map();
    for (const still of shown) {
      const node = this.nodes.get(still.id) || this.node(still);
      const isCurrent = still === this.stills[index];
      node.classList.toggle('is-current', isCurrent);
      node.querySelector('button').setAttribute('aria-current', String(isCurrent));
      nodes.set(still.id, node);
    }
    this.nodes = nodes;
    this.list.replaceChildren(...nodes.values());
  }

  node(still) {
    const node = element('li', 'still');
    node.dataset.testid = 'still';
    node.dataset.id = still.id;
    const button = element('button', 'still-button');
    button.type = 'button';
    const at = clock(Math.round(still.offset)); // stills come about a second apart
    button.setAttribute('aria-label', `Still at ${at}`);
    button.addEventListener('click', () => this.seek(still.offset));
    const image = element('img');
    image.alt = '';
    image.decoding = 'async';
    if (still.width && still.height) {
      image.width = still.width;
      image.height = still.height;
    }
    image.src = still.image_url;
    const time = element('span', 'still-time', at);
    time.title = still.captured_at;
    button.append(image, time);
    node.append(button);
    return node;
  }
}

/** The auditor's captures and photos, with their ledger state and a "Verify now" button. */
export class EvidenceList {
  constructor(els, items, { seek, titleOf }) {
    this.els = els;
    this.items = items;
    this.seek = seek;
    this.titleOf = titleOf;
    this.nodes = new Map();
    for (const item of items) {
      const node = this.node(item);
      this.nodes.set(item.id, node);
      els.list.append(node);
    }
    els.count.textContent = String(items.length);
    els.list.hidden = items.length === 0;
    els.empty.hidden = items.length > 0;
    this.relabel();
  }

  node(item) {
    const node = element('li', 'replay-item');
    node.dataset.testid = 'evidence-item';
    node.dataset.id = item.id;
    node.dataset.kind = item.kind;
    const open = element('button', 'replay-item-main');
    open.type = 'button';
    open.title = 'Play from here';
    open.addEventListener('click', () => this.seek(Math.max(item.offset, 0)));
    const image = element('img');
    image.alt = '';
    image.loading = 'lazy';
    image.src = item.image_url;
    const text = element('span', 'replay-item-text');
    const head = element('span', 'replay-item-head');
    head.append(element('strong', '', `${kindLabel(item.kind)} #${item.seq}`), element('span', 'replay-item-at', clock(item.offset)));
    const when = element('time', 'replay-item-time', wallClock(item.captured_at));
    when.dateTime = item.captured_at;
    when.title = `${item.captured_at} (UTC)`;
    text.append(head, element('span', 'replay-item-checkpoint'), when);
    const picture = element('span', 'annotated-picture');
    picture.append(image);
    open.append(picture, text);

    const foot = element('div', 'replay-item-foot');
    const badge = element('span', 'verification');
    badge.dataset.testid = 'verification';
    const verify = element('button', 'btn btn-small', 'Verify now');
    verify.type = 'button';
    verify.dataset.testid = 'verify-now';
    verify.addEventListener('click', () => this.verify(item, node));
    foot.append(badge);
    const shapes = item.annotations || [];
    if (shapes.length) foot.append(overlayToggle(picture, shapes, item.width, item.height));
    foot.append(verify);
    const checks = element('ul', 'verify-checks');
    checks.dataset.testid = 'verify-checks';
    checks.hidden = true;
    const sha = element('p', 'replay-item-sha mono', `SHA-256 ${item.sha256.slice(0, 16)}…`);
    sha.title = item.sha256;
    node.append(open, foot, sha, checks);
    this.setState(node, item.in_signed_head ? 'signed' : 'pending');
    return node;
  }

  relabel() {
    for (const item of this.items) {
      const title = item.checkpoint ? this.titleOf(item.checkpoint) : 'No checkpoint';
      const label = this.nodes.get(item.id).querySelector('.replay-item-checkpoint');
      label.textContent = title;
      label.title = title;
    }
  }

  setState(node, state) {
    const badge = node.querySelector('[data-testid="verification"]');
    const [text, title] = BADGES[state];
    badge.dataset.state = state;
    badge.textContent = text;
    badge.title = title;
  }

  /** Highlight the captures taken within a couple of seconds of the playhead. */
  update(t) {
    for (const item of this.items) {
      this.nodes.get(item.id).classList.toggle('is-near', Math.abs(item.offset - t) < 2);
    }
  }

  async verify(item, node) {
    const button = node.querySelector('[data-testid="verify-now"]');
    const list = node.querySelector('.verify-checks');
    button.disabled = true;
    this.setState(node, 'checking');
    try {
      const result = await api(`/api/evidence/${encodeURIComponent(item.id)}/verify`);
      list.replaceChildren(...CHECKS.map(([key, words]) => this.check(words, result.checks[key])));
      this.setState(node, result.verified ? 'verified' : 'failed');
    } catch (error) {
      list.replaceChildren(element('li', 'verify-error', `Could not check: ${error.message}`));
      this.setState(node, item.in_signed_head ? 'signed' : 'pending');
    } finally {
      list.hidden = false;
      button.disabled = false;
      button.textContent = 'Verify again';
    }
  }

  check(words, passed) {
    const row = element('li', 'verify-check');
    row.dataset.status = passed === true ? 'ok' : passed === false ? 'fail' : 'skipped';
    const mark = passed === true ? '✓' : passed === false ? '✗' : '–';
    row.append(element('span', 'verify-mark', mark), element('span', '', passed === undefined ? `${words} (not checked)` : words));
    return row;
  }
}
