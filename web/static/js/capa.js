// Corrective actions: the facility's response forms (/capa/{token}), and on the report the
// firm's link button and accept/reject forms. Each success reloads the page to show the record.

import { api, arm, readConfig } from './dom.js';
import { setupRecapture } from './recapture.js';

// The facility's page speaks the phone's language: its script texts come with the page.
const TEXTS = { sending: 'Sending…', ...readConfig('capa-strings') };

function say(form, text) {
  const out = form.querySelector('output');
  if (out) out.textContent = text;
}

for (const section of document.querySelectorAll('[data-original]')) setupRecapture(section, say, TEXTS);

for (const form of document.querySelectorAll('form[data-capa-response]')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const name of ['file', 'video']) {
      const file = data.get(name);
      if (file && !file.size) data.delete(name);
    }
    say(form, TEXTS.sending);
    try {
      await api(form.dataset.capaResponse, { method: 'POST', body: data });
      window.location.reload();
    } catch (error) {
      say(form, error.message);
    }
  });
  arm(form);
}

for (const form of document.querySelectorAll('form[data-capa-decision]')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const decision = event.submitter ? event.submitter.value : 'accept';
    const comment = form.elements.comment.value;
    try {
      await api(form.dataset.capaDecision, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ decision, comment }),
      });
      window.location.reload();
    } catch (error) {
      window.alert(error.message);
    }
  });
  arm(form);
}

const linkButton = document.querySelector('[data-capa-link]');
if (linkButton) {
  linkButton.addEventListener('click', async () => {
    const out = document.querySelector('[data-capa-link-out]');
    try {
      const link = await api(`/api/audits/${linkButton.dataset.capaLink}/capa-link`, { method: 'POST' });
      out.textContent = link.url;
    } catch (error) {
      out.textContent = error.message;
    }
  });
  arm(linkButton);
}
