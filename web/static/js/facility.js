// Facility page: a member adds the facility to its suppliers, or removes it, without a reload.
// The server rendered the state it found; the button flips it through the JSON API.

import { $, api, arm, say } from './dom.js';

const box = $('#supplier-link');
const button = $('#supplier-toggle');
const status = $('#supplier-link-status');
const error = $('#supplier-link-error');
const url = `/api/facilities/${encodeURIComponent(box.dataset.facilityId)}/links`;

function show(linked) {
  box.dataset.linked = String(linked);
  for (const line of box.querySelectorAll('[data-when]')) {
    line.hidden = line.dataset.when !== (linked ? 'linked' : 'unlinked');
  }
  button.textContent = linked ? 'Remove from my suppliers' : 'Add to my suppliers';
  button.classList.toggle('btn-primary', !linked);
  button.classList.toggle('btn-quiet', linked);
}

async function toggle() {
  const linked = box.dataset.linked === 'true';
  button.disabled = true;
  say(error, '');
  try {
    // Declared JSON although there is no body: the API's writes speak JSON only.
    const body = await api(url, {
      method: linked ? 'DELETE' : 'POST',
      headers: { 'Content-Type': 'application/json' },
    });
    show(body.linked);
    say(status, body.linked ? 'Added to your suppliers.' : 'Removed from your suppliers.');
  } catch (e) {
    say(status, '');
    say(error, e.message);
  } finally {
    button.disabled = false;
  }
}

button.addEventListener('click', toggle);
arm(button);
