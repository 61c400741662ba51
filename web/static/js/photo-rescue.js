// Phone: photos the server will never take (the audit is completed, the link revoked or
// expired) stay in the page's storage; this panel says so in the phone's language and saves
// them to the phone itself, each file named by when it was taken and the start of its
// SHA-256, so the facility can hand them over another way.

import { $ } from './dom.js';
import { fileName } from './photo-queue.js';
import { currentLanguage, t } from './strings.js';

const TEXTS = {
  closed: ['strandedClosedOne', 'strandedClosedMany'],
  ended: ['strandedEndedOne', 'strandedEndedMany'],
};

export class PhotoRescue {
  /** `queue` is the PhotoQueue whose `stranded` event opens the panel. */
  constructor(queue) {
    this.queue = queue;
    this.items = [];
    this.reason = null;
    this.urls = []; // object URLs of the saved photos: the links stay tappable
    this.els = {
      panel: $('#photo-stranded'),
      text: $('#stranded-text'),
      save: $('#save-photos'),
      discard: $('#discard-photos'),
      list: $('#stranded-list'),
    };
    this.els.save.addEventListener('click', () => this.save());
    this.els.discard.addEventListener('click', () => this.discard());
    queue.addEventListener('stranded', ({ detail }) => this.show(detail.reason, detail.items));
    window.addEventListener('pagehide', () => this.urls.forEach((url) => URL.revokeObjectURL(url)));
  }

  show(reason, items) {
    this.reason = reason;
    this.items = items;
    this.render();
  }

  /** The panel again (a new language, new photos). */
  render() {
    const count = this.items.length;
    this.els.panel.hidden = count === 0;
    this.els.panel.dataset.reason = this.reason || '';
    this.els.panel.dataset.count = String(count);
    if (!count) return;
    const [one, many] = TEXTS[this.reason] || TEXTS.ended;
    this.els.text.textContent = count === 1 ? t(one) : t(many, { count });
    const when = new Intl.DateTimeFormat(currentLanguage(), { dateStyle: 'medium', timeStyle: 'short' });
    for (const link of this.els.list.querySelectorAll('a')) {
      const item = this.items.find((other) => other.id === link.dataset.id);
      if (item) link.textContent = t('strandedItem', { time: when.format(new Date(item.takenAt)) });
    }
  }

  /** Save every photo as a download; each also gets a link, in case the browser let only some through. */
  async save() {
    this.els.save.disabled = true;
    try {
      const links = [];
      for (const item of this.items) {
        const blob = await this.queue.blob(item);
        if (!blob) continue;
        const url = URL.createObjectURL(blob);
        this.urls.push(url);
        const link = document.createElement('a');
        link.href = url;
        link.download = fileName(item);
        link.dataset.id = item.id;
        link.dataset.testid = 'stranded-photo';
        link.className = 'stranded-link';
        const row = document.createElement('li');
        row.append(link);
        links.push(row);
      }
      this.els.list.replaceChildren(...links);
      this.els.list.hidden = links.length === 0;
      // Only once they are saved may they be removed (they count against the page's storage).
      this.els.discard.hidden = links.length === 0;
      this.render();
      for (const row of links) row.firstChild.click();
    } finally {
      this.els.save.disabled = false;
    }
  }

  /** Remove the saved photos from the page's storage, after the user confirms. */
  async discard() {
    if (!window.confirm(t('strandedDiscardConfirm', { count: this.items.length }))) return;
    for (const item of this.items) await this.queue.forget(item);
    this.items = [];
    this.urls.forEach((url) => URL.revokeObjectURL(url));
    this.urls = [];
    this.els.list.replaceChildren();
    this.els.list.hidden = true;
    this.els.discard.hidden = true;
    this.render();
  }
}
