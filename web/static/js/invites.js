// Invite panel of the auditor console: create a link + QR code for the facility, list the
// active links, revoke them. A token is only ever shown right after it is created.

import { $, api, formatDateTime } from './dom.js';

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function expiryText(iso) {
  const absolute = formatDateTime(iso);
  const minutes = Math.round((new Date(iso).getTime() - Date.now()) / 60_000);
  if (!absolute || Number.isNaN(minutes)) return absolute;
  const inTime = Math.abs(minutes) < 120
    ? relative.format(minutes, 'minute')
    : relative.format(Math.round(minutes / 60), 'hour');
  return `${absolute} (${inTime})`;
}

const MIN_MINUTES = 60;
const MAX_MINUTES = 14 * 24 * 60;

/**
 * The lifetime to ask for, in minutes: a fixed choice, or until the end of today or tomorrow
 * in this browser's time zone (the auditor's "the audit's day"); 1 hour to 14 days.
 */
export function lifetimeMinutes(choice, now = new Date()) {
  let minutes = Number(choice);
  if (choice === 'today' || choice === 'tomorrow') {
    const end = new Date(now);
    end.setHours(24, 0, 0, 0); // midnight that ends today
    if (choice === 'tomorrow') end.setDate(end.getDate() + 1);
    minutes = Math.floor((end.getTime() - now.getTime()) / 60_000);
  }
  if (!Number.isFinite(minutes)) minutes = MIN_MINUTES;
  return Math.min(MAX_MINUTES, Math.max(MIN_MINUTES, minutes));
}

function isActive(invite) {
  return !invite.revoked && new Date(invite.expires_at).getTime() > Date.now();
}

/** The server's QR code as an SVG node, with anything executable stripped; null if it is not SVG. */
export function qrNode(markup) {
  // Parsed as HTML so that an <svg> without an xmlns attribute still lands in the SVG namespace.
  const doc = new DOMParser().parseFromString(String(markup || ''), 'text/html');
  const svg = doc.querySelector('svg');
  if (!svg) return null;
  for (const node of svg.querySelectorAll('script, foreignObject')) node.remove();
  for (const node of [svg, ...svg.querySelectorAll('*')]) {
    for (const { name, value } of [...node.attributes]) {
      if (/^on/i.test(name) || /^\s*javascript:/i.test(value)) node.removeAttribute(name);
    }
  }
  // Let the stylesheet size it: keep the drawing's proportions in a viewBox.
  const width = parseFloat(svg.getAttribute('width'));
  const height = parseFloat(svg.getAttribute('height'));
  if (!svg.hasAttribute('viewBox') && width > 0 && height > 0) svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  svg.setAttribute('aria-hidden', 'true');
  return document.importNode(svg, true);
}

async function copyText(text, fallbackNode) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (plain HTTP on the LAN): select the text so Ctrl+C works.
    const range = document.createRange();
    range.selectNodeContents(fallbackNode);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return document.execCommand && document.execCommand('copy');
  }
}

export function setupInvites(auditId) {
  const base = `/api/audits/${encodeURIComponent(auditId)}/invites`;
  const els = {
    form: $('#invite-form'),
    create: $('#create-invite'),
    label: $('#invite-label'),
    lifetime: $('#invite-lifetime'),
    error: $('#invite-error'),
    card: $('#new-invite'),
    qr: $('#invite-qr'),
    link: $('#invite-link'),
    copy: $('#copy-invite'),
    expiry: $('#invite-expiry'),
    revokeNew: $('#revoke-new-invite'),
    list: $('#invite-list'),
    empty: $('#invite-empty'),
  };
  const active = new Map();
  let shownId = null;

  function showError(error) {
    els.error.textContent = error ? error.message : '';
    els.error.hidden = !error;
  }

  function render() {
    const items = [...active.values()].filter(isActive)
      .sort((a, b) => String(a.expires_at).localeCompare(String(b.expires_at)));
    els.list.replaceChildren(...items.map(inviteItem));
    els.empty.hidden = items.length > 0;
    if (shownId !== null && !items.some((invite) => invite.id === shownId)) hideShown();
  }

  function inviteItem(invite) {
    const item = document.createElement('li');
    item.className = invite.id === shownId ? 'invite is-new' : 'invite';
    item.dataset.testid = 'invite';
    item.dataset.id = invite.id;
    const text = document.createElement('div');
    const label = document.createElement('span');
    label.className = 'invite-label';
    label.textContent = invite.label || (invite.id === shownId ? 'New link (shown above)' : 'Invite link');
    const expiry = document.createElement('span');
    expiry.className = 'muted small';
    expiry.textContent = `Expires ${expiryText(invite.expires_at)}`;
    text.append(label, expiry);
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'btn btn-small btn-danger-quiet';
    revoke.dataset.testid = 'revoke-invite';
    revoke.textContent = 'Revoke';
    revoke.addEventListener('click', () => revokeInvite(invite.id, revoke));
    item.append(text, revoke);
    return item;
  }

  function hideShown() {
    shownId = null;
    els.card.hidden = true;
    els.qr.replaceChildren();
    els.link.textContent = '';
    els.link.removeAttribute('href');
  }

  function show(invite) {
    shownId = invite.id;
    const qr = qrNode(invite.qr_svg);
    els.qr.replaceChildren(...(qr ? [qr] : []));
    els.qr.hidden = !qr;
    els.link.href = invite.url;
    els.link.textContent = invite.url;
    els.expiry.dateTime = invite.expires_at;
    els.expiry.textContent = expiryText(invite.expires_at);
    els.revokeNew.disabled = false;
    els.card.hidden = false;
  }

  async function load() {
    try {
      const body = await api(base);
      for (const invite of (body && body.items) || []) active.set(invite.id, invite);
      render();
    } catch (error) {
      showError(error);
    }
  }

  async function createInvite() {
    els.create.disabled = true;
    showError(null);
    try {
      const invite = await api(base, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          label: els.label.value.trim() || null,
          ttl_minutes: lifetimeMinutes(els.lifetime.value),
        }),
      });
      els.label.value = '';
      active.set(invite.id, { id: invite.id, label: invite.label || null, expires_at: invite.expires_at, revoked: false });
      show(invite);
      render();
      els.copy.focus();
    } catch (error) {
      showError(error);
    } finally {
      els.create.disabled = false;
    }
  }

  async function revokeInvite(id, button) {
    if (button) button.disabled = true;
    showError(null);
    try {
      await api(`${base}/${encodeURIComponent(id)}`, { method: 'DELETE' });
      active.delete(id);
      if (id === shownId) hideShown();
      render();
    } catch (error) {
      if (button) button.disabled = false;
      showError(error);
    }
  }

  async function copyLink() {
    const ok = await copyText(els.link.href, els.link);
    const label = els.copy.querySelector('span') || els.copy;
    label.textContent = ok ? 'Copied' : 'Press Ctrl+C';
    setTimeout(() => { label.textContent = 'Copy'; }, 2_000);
  }

  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    createInvite();
  });
  els.copy.addEventListener('click', copyLink);
  els.revokeNew.addEventListener('click', () => revokeInvite(shownId, els.revokeNew));
  // Expired links drop off the list, and the "in N minutes" stays true.
  setInterval(render, 30_000);
  load();
}
