// Console: the facility phone's language, and which checkpoints it sees in English because
// the template has no instruction in that language.

import { $ } from './dom.js';

const names = new Intl.DisplayNames(['en'], { type: 'language' });

/** The English name of a language code ('vi' -> 'Vietnamese'); the code itself if unknown. */
export function languageName(code) {
  try {
    return names.of(code) || code;
  } catch {
    return code;
  }
}

export class PhoneLanguage {
  /** `walk` is the console's Walkthrough; `staff()` the facility participants now live. */
  constructor(walk, staff) {
    this.walk = walk;
    this.staff = staff;
    this.els = { list: $('#walk-list'), note: $('#phone-language') };
    // Registered after the checkpoint list's own listener: it marks the freshly drawn items.
    walk.addEventListener('change', () => this.render());
  }

  /** The phone's language, when one phone is live and it is not English. */
  language() {
    const langs = [...new Set(this.staff().map((person) => person.lang).filter(Boolean))];
    return langs.length === 1 && langs[0] !== 'en' ? langs[0] : null;
  }

  render() {
    const lang = this.language();
    const fallback = lang ? this.walk.items.filter((item) => !(item.languages || []).includes(lang)) : [];
    const keys = new Set(fallback.map((item) => item.key));
    for (const node of this.els.list.querySelectorAll('[data-testid="checkpoint"]')) {
      const old = node.querySelector('.cp-fallback');
      if (old) old.remove();
      if (!keys.has(node.dataset.key)) continue;
      const mark = document.createElement('span');
      mark.className = 'cp-fallback';
      mark.dataset.testid = 'checkpoint-fallback';
      mark.textContent = 'EN';
      mark.title = `The phone (${languageName(lang)}) shows this instruction in English`;
      const meta = node.querySelector('.cp-meta');
      if (meta) meta.append(mark);
    }
    if (this.els.note) {
      this.els.note.hidden = !lang;
      this.els.note.textContent = lang
        ? `Phone in ${languageName(lang)}` + (fallback.length ? `: ${fallback.length} instruction(s) in English (marked EN)` : '')
        : '';
    }
  }
}
