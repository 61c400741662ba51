// Verify page: is this picture recorded evidence of an audit I can see, and is this
// exported package complete and unaltered? A picture never leaves the browser, only its
// SHA-256; a package is uploaded and checked by the server.

import { $, api, element, formatDateTime } from './dom.js';
import { clock } from './replay-timeline.js';

const els = {
  drop: $('#verify-drop'),
  input: $('#verify-file'),
  progress: $('#verify-progress'),
  progressText: $('#verify-progress-text'),
  progressBar: $('#verify-progress-bar'),
  result: $('#verify-result'),
};

const KINDS = {
  still: 'Still: one of the frames the recorder keeps every second',
  capture: 'Capture: taken by the auditor from the live video',
  photo: 'Photo: taken on the facility phone at the auditor’s request',
};
const SUMMARY_LABELS = {
  audit: 'Audit',
  entries: 'Ledger entries',
  files: 'Files covered',
  types: 'Entries by type',
  tree_heads: 'Signed tree heads',
  root: 'Latest root',
  key_id: 'Signing key',
  key_source: 'Key taken from',
  bytes: 'Bytes hashed',
};
const KEY_SOURCES = {
  trusted: 'this server’s own public key',
  package: 'the package itself (not checked against a key you trust)',
};
const integer = new Intl.NumberFormat();
let attempt = 0; // a newer file makes the answers about an older one moot
let upload = null;

/** "184 KB" */
function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

/** "2026-11-28 02:24:28 UTC" */
function utc(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

async function sha256Hex(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** 'picture', 'package' or null, from the file's first bytes (names and types can lie). */
function kindOf(head) {
  const starts = (...bytes) => bytes.every((b, i) => head[i] === b);
  if (starts(0xff, 0xd8, 0xff) || starts(0x89, 0x50, 0x4e, 0x47)) return 'picture';
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...head.slice(8, 12)) === 'WEBP') return 'picture';
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06)) return 'package';
  return null;
}

function progress(text, fraction) {
  els.progress.hidden = !text;
  els.progressText.textContent = text || '';
  if (fraction === null || fraction === undefined) els.progressBar.removeAttribute('value');
  else els.progressBar.value = fraction;
}

/** Replace the result: a verdict line with a mark, a heading and a sentence. */
function verdict(status, heading, text) {
  els.result.hidden = false;
  els.result.dataset.status = status;
  const box = element('div', 'verify-verdict');
  box.append(element('span', 'verify-icon', { ok: '✓', fail: '✗' }[status] || '?'));
  const words = element('div');
  words.append(element('h2', '', heading));
  if (text) words.append(element('p', '', text));
  box.append(words);
  els.result.replaceChildren(box);
}

function facts(rows) {
  const list = element('dl', 'facts verify-facts');
  for (const [label, value, className] of rows) {
    const row = element('div');
    const dd = element('dd', className || '');
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value;
    row.append(element('dt', '', label), dd);
    list.append(row);
  }
  return list;
}

function fileFacts(file, digest) {
  const rows = [['File', `${file.name} (${size(file.size)})`]];
  if (digest) rows.push(['SHA-256', digest, 'mono']);
  return facts(rows);
}

async function handle(file) {
  const mine = ++attempt;
  if (upload) upload.abort();
  progress('');
  els.result.hidden = true;
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  const kind = kindOf(head);
  if (kind === 'picture') await checkPicture(file, mine);
  else if (kind === 'package') checkPackage(file, mine);
  else {
    verdict('unknown', 'Not a picture or a package', 'Drop a JPEG, PNG or WebP picture, or a .zip package exported from an audit.');
    els.result.append(fileFacts(file));
  }
}

async function checkPicture(file, mine) {
  if (!globalThis.crypto || !crypto.subtle) {
    verdict('unknown', 'This page cannot compute fingerprints here', 'Browsers compute SHA-256 only on pages served over HTTPS (or from this computer). Open this page over HTTPS.');
    return;
  }
  progress('Computing the picture’s fingerprint…', null);
  try {
    const digest = await sha256Hex(await file.arrayBuffer());
    progress('Looking for it in your audits…', null);
    const found = await api(`/api/evidence/by-sha256/${digest}`);
    if (mine !== attempt) return;
    progress('');
    if (found.items.length) await showMatches(file, digest, found.items, mine);
    else {
      verdict('unknown', 'Not found in any audit you can see',
        'This picture is not recorded evidence (or was altered: even one changed byte gives another fingerprint).');
      els.result.append(picturePreview(file), fileFacts(file, digest));
    }
  } catch (error) {
    if (mine !== attempt) return;
    progress('');
    verdict('unknown', 'The picture could not be checked', error.message);
  }
}

function picturePreview(file) {
  const image = element('img', 'verify-preview');
  image.alt = `The picture you chose: ${file.name}`;
  const url = URL.createObjectURL(file);
  image.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
  image.src = url;
  return image;
}

const auditCache = new Map();

/** What the replay and the checklist say about an audit: offsets, ledger state, titles. */
function auditDetails(auditId) {
  if (!auditCache.has(auditId)) {
    const base = `/api/audits/${encodeURIComponent(auditId)}`;
    auditCache.set(auditId, Promise.all([
      api(`${base}/replay`).catch(() => null),
      api(`${base}/checkpoints`).catch(() => null),
    ]).then(([replay, checklist]) => {
      const titles = new Map();
      for (const section of (checklist && checklist.sections) || []) {
        for (const cp of section.checkpoints || []) titles.set(cp.key, cp.title);
      }
      const evidence = new Map(((replay && replay.evidence) || []).map((item) => [item.id, item]));
      return { titles, evidence };
    }));
  }
  return auditCache.get(auditId);
}

async function showMatches(file, digest, items, mine) {
  const details = await Promise.all(items.map((item) => auditDetails(item.audit.id)));
  if (mine !== attempt) return;
  const audits = new Set(items.map((item) => item.audit.id)).size;
  const times = items.length === 1 ? '' : ` ${items.length} times`;
  verdict('ok', 'Recorded evidence',
    `This picture is, byte for byte, evidence recorded${times} in ${audits === 1 ? 'an audit' : `${audits} audits`} you can see.`);
  const list = element('ul', 'verify-matches');
  items.forEach((item, i) => list.append(match(item, details[i])));
  els.result.append(list, picturePreview(file), fileFacts(file, digest));
}

function match(item, { titles, evidence }) {
  const node = element('li', 'verify-match');
  node.dataset.testid = 'verify-match';
  node.dataset.id = item.id;
  const audit = item.audit;
  const heading = element('h3', '', audit.title || audit.facility || 'Audit');
  if (audit.title && audit.facility) heading.append(' ', element('span', 'muted', `· ${audit.facility}`));
  const replayed = evidence.get(item.id);
  const local = formatDateTime(item.captured_at);
  const rows = [
    ['Kind', `${KINDS[item.kind] || item.kind} (#${item.seq})`],
    ['Checkpoint', item.checkpoint ? titles.get(item.checkpoint) || item.checkpoint : 'None: taken between checkpoints'],
    ['Captured', `${utc(item.captured_at)}${local ? ` · ${local} your time` : ''}`],
  ];
  if (replayed) {
    const state = replayed.in_signed_head ? 'covered by a signed tree head' : 'not yet covered by a signed tree head';
    rows.push(['Ledger', replayed.ledger_seq === null ? 'no ledger entry found' : `entry ${replayed.ledger_seq}, ${state}`]);
  }
  const link = element('a', 'btn btn-primary btn-small');
  link.dataset.testid = 'verify-replay-link';
  const base = `/audits/${encodeURIComponent(audit.id)}/replay`;
  if (replayed) {
    const at = Math.max(replayed.offset, 0);
    link.href = `${base}#t=${at}`;
    link.textContent = `Replay the audit at ${clock(at)}`;
  } else {
    link.href = base;
    link.textContent = 'Replay the audit';
  }
  node.append(heading, facts(rows), link);
  return node;
}

function checkPackage(file, mine) {
  const xhr = new XMLHttpRequest();
  upload = xhr;
  xhr.open('POST', `/api/verify?name=${encodeURIComponent(file.name)}`);
  xhr.setRequestHeader('Content-Type', 'application/zip');
  xhr.upload.addEventListener('progress', (event) => {
    if (!event.lengthComputable) return;
    const fraction = event.loaded / event.total;
    progress(`Uploading ${Math.floor(fraction * 100)} % (${size(event.loaded)} of ${size(event.total)})…`, fraction);
  });
  xhr.upload.addEventListener('load', () => progress('Checking every file, entry and signature on the server…', null));
  xhr.addEventListener('load', () => {
    if (mine !== attempt) return;
    upload = null;
    progress('');
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { body = null; }
    if (xhr.status === 200 && body) showReport(file, body);
    else {
      const message = body && body.error ? body.error.message : `The server answered HTTP ${xhr.status}.`;
      verdict('unknown', 'The package could not be checked', message);
    }
  });
  xhr.addEventListener('error', () => {
    if (mine !== attempt) return;
    upload = null;
    progress('');
    verdict('unknown', 'The package could not be checked', 'The server could not be reached. Check the network and try again.');
  });
  progress(`Uploading ${file.name}…`, 0);
  xhr.send(file);
}

function summaryValue(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return integer.format(value);
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}: ${summaryValue(v)}`).join(', ');
  return String(value);
}

function showReport(file, report) {
  const problems = report.problems || [];
  const count = problems.length + (report.problems_omitted || 0);
  if (report.ok) verdict('ok', 'The package verifies', 'Every file matches the ledger, and the ledger matches its signed tree heads: nothing in it was altered.');
  else verdict('fail', `The package does not verify: ${count} problem${count === 1 ? '' : 's'}`, 'Whatever is named below was changed, added or removed after the audit recorded it.');
  if (problems.length) {
    const list = element('ul', 'verify-problems');
    list.dataset.testid = 'verify-problems';
    for (const problem of problems) list.append(element('li', 'mono', problem));
    if (report.problems_omitted) list.append(element('li', 'muted', `… and ${integer.format(report.problems_omitted)} more`));
    els.result.append(list);
  }
  const order = Object.keys(SUMMARY_LABELS);
  const rank = (key) => (order.includes(key) ? order.indexOf(key) : order.length);
  const rows = Object.entries(report.summary || {})
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([key, value]) => [
      SUMMARY_LABELS[key] || key,
      key === 'key_source' ? KEY_SOURCES[value] || summaryValue(value) : summaryValue(value),
      ['root', 'key_id', 'audit'].includes(key) ? 'mono' : '',
    ]);
  rows.unshift(['Package', `${file.name} (${size(file.size)})`]);
  els.result.append(facts(rows));
  if ((report.notes || []).length) {
    const notes = element('ul', 'verify-notes muted small');
    for (const note of report.notes) notes.append(element('li', '', note));
    els.result.append(notes);
  }
}

function onDrop(event) {
  event.preventDefault();
  els.drop.classList.remove('is-over');
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (file) handle(file);
}

for (const type of ['dragenter', 'dragover']) {
  els.drop.addEventListener(type, (event) => {
    event.preventDefault();
    els.drop.classList.add('is-over');
  });
}
els.drop.addEventListener('dragleave', () => els.drop.classList.remove('is-over'));
els.drop.addEventListener('drop', onDrop);
// A file dropped beside the zone must not replace the page.
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => event.preventDefault());
els.input.addEventListener('change', () => {
  const file = els.input.files[0];
  els.input.value = '';
  if (file) handle(file);
});
