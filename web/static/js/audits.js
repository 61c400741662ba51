// Audit list: show creation times in the viewer's own time zone, and, while an auditor types a
// new audit's facility, say whether that facility already holds a valid certificate.

import { $, localizeTimes } from './dom.js';

localizeTimes();

const fold = (text) => text.trim().split(/\s+/).join(' ').toLocaleLowerCase();

/** The registry's facility with exactly this name and country, if any. */
async function findFacility(name, country) {
  const params = new URLSearchParams({ q: name, country });
  const response = await fetch(`/api/facilities?${params}`, { headers: { Accept: 'application/json' } });
  if (!response.ok) return null;
  const { items } = await response.json();
  return items.find((f) => fold(f.name) === fold(name) && fold(f.country) === fold(country)) || null;
}

function showWarning(box, facility) {
  const cert = facility && facility.certificate;
  if (!cert || cert.state !== 'valid') {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const link = document.createElement('a');
  link.href = facility.url;
  link.textContent = facility.name;
  const by = cert.firm ? `, by ${cert.firm}` : '';
  box.replaceChildren(
    link,
    ` is certified until ${cert.expires.slice(0, 10)}${by}. A new audit is only needed if the certificate no longer covers the facility.`,
  );
  box.hidden = false;
}

function watchFacility() {
  const box = $('#facility-warning');
  const name = $('#facility_name');
  const country = $('#country');
  if (!box || !name || !country) return;
  let timer = 0;
  let asked = 0;
  const check = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      if (!name.value.trim() || !country.value.trim()) return showWarning(box, null);
      const found = await findFacility(name.value, country.value).catch(() => null);
      if (mine === asked) showWarning(box, found); // an older answer never overwrites a newer one
    }, 300);
  };
  name.addEventListener('input', check);
  country.addEventListener('input', check);
  check();
}

watchFacility();
