// Small DOM and HTTP helpers shared by every page.

export const $ = (selector, root = document) => root.querySelector(selector);

/** The page configuration the server embeds as <script type="application/json" id="config">. */
export function readConfig(id = 'config') {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : {};
}

export const CONNECTION_STATES = ['connecting', 'connected', 'reconnecting', 'failed'];

/** Update a connection badge: `data-state` drives the colour, the text says it in words. */
export function setBadge(badge, state, text) {
  if (!CONNECTION_STATES.includes(state)) throw new Error(`unknown connection state ${state}`);
  badge.dataset.state = state;
  const label = badge.querySelector('.state-text') || badge;
  if (label.textContent !== text) label.textContent = text;
}

/** ws:// or wss:// URL for a path on this origin. */
export function socketUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

export class ApiError extends Error {
  constructor(message, { status = 0, code = 'network', details = {} } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details; // the error object's other fields, e.g. `keys` of reason_required
  }
}

/**
 * fetch() a JSON endpoint with the session cookie; returns the parsed body (or null for
 * an empty one). Errors, including the API's {"error": {"code", "message"}}, throw ApiError.
 */
export async function api(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin', ...options });
  } catch {
    throw new ApiError('The server could not be reached. Check the network and try again.');
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try { body = JSON.parse(text); } catch { body = null; }
  }
  if (!response.ok) {
    const detail = body && body.error;
    const fallback = response.status === 401
      ? 'Your session has ended. Sign in again.'
      : `The request failed (HTTP ${response.status}).`;
    throw new ApiError((detail && detail.message) || fallback, {
      status: response.status,
      code: (detail && detail.code) || 'http',
      details: detail || {},
    });
  }
  return body;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** An ISO 8601 timestamp in the viewer's locale and time zone ("" if unparsable). */
export function formatDateTime(iso, { timeOnly = false } = {}) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return (timeOnly ? timeFormat : dateTimeFormat).format(date);
}

/** Rewrite every <time data-local datetime="…"> below root into local time. */
export function localizeTimes(root = document) {
  for (const node of root.querySelectorAll('time[data-local]')) {
    const text = formatDateTime(node.dateTime);
    if (text) {
      node.title = node.dateTime;
      node.textContent = text;
    }
  }
}

/** True when a key press belongs to a form field rather than to a page shortcut. */
export function isTyping(event) {
  const target = event.target;
  if (!(target instanceof Element)) return false;
  return target.isContentEditable || Boolean(target.closest('input, textarea, select'));
}

/** A new element with an optional class and text. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Toggle buttons keep their state in aria-pressed; the stylesheet keys off it too. */
export function setPressed(button, pressed) {
  button.setAttribute('aria-pressed', String(pressed));
}

/**
 * Controls that only work through a script are rendered disabled, so that a click before the
 * script ran is not lost (forms also get method="post": an early submit never puts a field, a
 * password say, in the URL). Call this with the button, or the form whose submit buttons it
 * enables, once its listener is attached.
 */
export function arm(control) {
  const buttons = control instanceof HTMLFormElement ? control.querySelectorAll('button[type="submit"]') : [control];
  for (const button of buttons) button.disabled = false;
}

/** Show `text` in a status or alert paragraph (hidden when empty). */
export function say(node, text) {
  node.textContent = text;
  node.hidden = !text;
}

/**
 * A notice line: `show(text, { forMs })` says it (empty hides it); with `forMs` it goes after
 * that long unless replaced first. One timer per line, so an earlier notice's timer never
 * clears a later one, even one that reads the same (two gaps of the same length do).
 */
export function noticeLine(node) {
  let timer = 0;
  return function show(text, { forMs = 0 } = {}) {
    clearTimeout(timer);
    say(node, text);
    if (text && forMs) timer = setTimeout(() => show(''), forMs);
  };
}
