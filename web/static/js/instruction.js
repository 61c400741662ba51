// Phone: what the auditor wants to see now, in the phone's language, "Step 3 of 12".

import { $ } from './dom.js';
import { t } from './strings.js';

export class InstructionCard {
  constructor() {
    this.key = undefined;
    this.els = { card: $('#instruction'), step: $('#instruction-step'), text: $('#instruction-text') };
    this.show(null);
  }

  /** A `checkpoint` message's checkpoint, or null when the auditor has not picked one. */
  show(checkpoint) {
    this.checkpoint = checkpoint;
    const { card, step, text } = this.els;
    const key = checkpoint ? checkpoint.key : null;
    card.dataset.state = checkpoint ? 'step' : 'waiting';
    card.dataset.key = key || '';
    if (checkpoint) {
      const where = t('stepOf', { n: checkpoint.index + 1, total: checkpoint.total });
      // The title is the template's own (English); on an English phone it helps.
      const english = !checkpoint.lang || String(checkpoint.lang).startsWith('en');
      step.textContent = english && checkpoint.title ? `${where} · ${checkpoint.title}` : where;
      text.textContent = checkpoint.instruction || checkpoint.title || '';
      if (checkpoint.lang) text.lang = checkpoint.lang;
    } else {
      step.textContent = '';
      text.textContent = t('waitDirections');
      text.removeAttribute('lang');
    }
    step.hidden = !checkpoint;
    if (this.key !== undefined && key !== this.key) this.highlight();
    this.key = key;
  }

  /** The card again, in the page's (new) language. */
  refresh() {
    this.show(this.checkpoint);
  }

  /** A new step: flash the card so the person filming notices. */
  highlight() {
    const card = this.els.card;
    card.classList.remove('is-changed');
    void card.offsetWidth;
    card.classList.add('is-changed');
    // Browsers refuse to vibrate before the person has touched the page.
    const touched = !navigator.userActivation || navigator.userActivation.hasBeenActive;
    if (touched && typeof navigator.vibrate === 'function') navigator.vibrate(40);
  }
}
