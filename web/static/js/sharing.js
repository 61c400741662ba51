// Report page: which member organisations a completed audit is shared with; share it with
// another, or stop sharing. The server refuses what the policy does not allow and says why.

import { $, api, element, formatDateTime } from './dom.js';

export class Sharing extends EventTarget {
  constructor(auditId) {
    super();
    this.base = `/api/audits/${encodeURIComponent(auditId)}/shares`;
    this.shares = [];
    this.members = [];
    this.els = {
      list: $('#share-list'),
      empty: $('#share-empty'),
      form: $('#share-form'),
      select: $('#share-org'),
      submit: $('#share-submit'),
      error: $('#share-error'),
      status: $('#share-status'),
    };
    this.els.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.share(this.els.select.value);
    });
    this.els.list.addEventListener('click', (event) => {
      const button = event.target instanceof Element && event.target.closest('[data-org-id]');
      if (button) this.unshare(button.dataset.orgId, button.dataset.orgName);
    });
  }

  async load() {
    try {
      const [shares, orgs] = await Promise.all([api(this.base), api('/api/orgs')]);
      this.shares = shares.items;
      this.members = orgs.items.filter((org) => org.kind === 'member');
      this.showError('');
    } catch (error) {
      this.showError(`Sharing could not be loaded: ${error.message}`);
    }
    this.render();
  }

  render() {
    const els = this.els;
    els.list.replaceChildren(...this.shares.map((share) => this.item(share)));
    els.empty.hidden = this.shares.length > 0;
    const shared = new Set(this.shares.map((share) => share.org.id));
    const open = this.members.filter((org) => !shared.has(org.id));
    const options = open.map((org) => Object.assign(element('option', '', org.name), { value: org.id }));
    if (!options.length) {
      const none = this.members.length ? 'Shared with every member organisation' : 'No member organisations yet';
      options.push(Object.assign(element('option', '', none), { value: '' }));
    }
    els.select.replaceChildren(...options);
    els.select.disabled = !open.length;
    els.submit.disabled = !open.length;
  }

  item(share) {
    const li = element('li', 'share-item');
    li.dataset.testid = 'share-item';
    li.dataset.orgId = share.org.id;
    const since = formatDateTime(share.created_at);
    const text = element('span', 'share-name', share.org.name);
    const meta = element('span', 'muted small', since ? `since ${since}` : '');
    const stop = element('button', 'btn btn-small btn-danger-quiet', 'Stop sharing');
    stop.type = 'button';
    stop.dataset.testid = 'unshare';
    stop.dataset.orgId = share.org.id;
    stop.dataset.orgName = share.org.name;
    stop.setAttribute('aria-label', `Stop sharing with ${share.org.name}`);
    li.append(text, meta, stop);
    return li;
  }

  async share(orgId) {
    if (!orgId) return;
    const org = this.members.find((m) => m.id === orgId);
    await this.change(
      () => api(this.base, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ org: orgId }),
      }),
      `Shared with ${org ? org.name : 'the organisation'}.`,
    );
    this.els.select.focus();
  }

  async unshare(orgId, name) {
    await this.change(
      () => api(`${this.base}/${encodeURIComponent(orgId)}`, { method: 'DELETE' }),
      `Stopped sharing with ${name}.`,
    );
    this.els.select.focus();
  }

  /** Run one change, then show the server's answer and the lists as they are now. */
  async change(request, done) {
    this.els.submit.disabled = true;
    try {
      await request();
      this.showError('');
      this.els.status.textContent = done;
      this.dispatchEvent(new Event('changed'));
    } catch (error) {
      this.showError(error.message);
    }
    await this.load();
  }

  showError(text) {
    this.els.error.textContent = text;
    this.els.error.hidden = !text;
  }
}
