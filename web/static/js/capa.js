// Corrective actions: the facility's response forms (/capa/{token}), and on the report the
// firm's link button and accept/reject forms. Each success reloads the page to show the record.

import { api } from './dom.js';

function say(form, text) {
  const out = form.querySelector('output');
  if (out) out.textContent = text;
}

for (const form of document.querySelectorAll('form[data-capa-response]')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const file = data.get('file');
    if (file && !file.size) data.delete('file');
    say(form, 'Sending…');
    try {
      await api(form.dataset.capaResponse, { method: 'POST', body: data });
      window.location.reload();
    } catch (error) {
      say(form, error.message);
    }
  });
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
}
