// Phone: the page's screens (consent, live camera, full-screen message) and what each
// problem tells the person holding the phone.

import { $ } from './dom.js';
import { t } from './strings.js';

// What each failure to start the camera means for the person holding the phone.
const CAMERA_PROBLEMS = {
  NotAllowedError: 'denied',
  SecurityError: 'denied',
  NotFoundError: 'noCamera',
  OverconstrainedError: 'noCamera',
  NotReadableError: 'busy',
  AbortError: 'busy',
};

export class Screens {
  constructor() {
    this.els = {
      bar: $('#staff-bar'),
      message: $('#message'),
      screens: [...document.querySelectorAll('.screen')],
      title: $('#message-title'),
      body: $('#message-body'),
      steps: $('#message-steps'),
      action: $('#message-action'),
    };
  }

  /** Show one screen; the bar with the connection state only once the session has begun. */
  show(name, { bar = false } = {}) {
    for (const screen of this.els.screens) screen.hidden = screen.id !== `screen-${name}`;
    this.els.bar.hidden = !bar;
  }

  /**
   * A full-screen message; `retry` adds a Try again button, `steps` a list of instructions,
   * `tone` 'success' shows a check mark instead of the warning sign.
   */
  message(kind, { retry = false, steps = [], bar = false, tone = 'problem' } = {}) {
    this.shown = { kind, steps };
    const els = this.els;
    els.message.dataset.tone = tone;
    els.title.textContent = t(`${kind}Title`);
    els.body.textContent = t(`${kind}Body`);
    els.steps.replaceChildren(...steps.map((key) => Object.assign(document.createElement('li'), { textContent: t(key) })));
    els.steps.hidden = steps.length === 0;
    els.action.hidden = !retry;
    this.show('message', { bar });
    if (retry) els.action.focus();
  }

  /** The message again, in the page's (new) language. */
  refresh() {
    if (!this.shown) return;
    const { kind, steps } = this.shown;
    this.els.title.textContent = t(`${kind}Title`);
    this.els.body.textContent = t(`${kind}Body`);
    [...this.els.steps.children].forEach((item, i) => { item.textContent = t(steps[i]); });
  }

  cameraProblem(error) {
    const kind = CAMERA_PROBLEMS[error && error.name] || 'unknown';
    const steps = kind === 'denied' ? ['deniedIphone', 'deniedAndroid', 'deniedAfter'] : [];
    this.message(kind, { retry: kind !== 'noCamera', steps });
  }
}
