// Administration page: create organisations and users through the JSON API, offer only the
// roles that fit the chosen organisation, and sign a user out everywhere. The tables are
// rendered by the server; after a change they are refreshed from the page itself.

import { $, api, arm, readConfig, say } from './dom.js';

const config = readConfig();
const rolesOfKind = config.roles_of_kind || {};

const orgForm = $('#create-org');
const userForm = $('#create-user');
const orgSelect = $('#user-org');
const roleSelect = $('#user-role');

const json = (body) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body),
});

/** Only the roles that fit the chosen organisation's kind; the server checks it again. */
function filterRoles() {
  const option = orgSelect.selectedOptions[0];
  const kind = option ? option.dataset.kind : undefined;
  const fitting = kind ? rolesOfKind[kind] || [] : null;
  for (const role of roleSelect.options) {
    const fits = fitting === null || (role.dataset.kind === kind && fitting.includes(role.value));
    role.hidden = !fits;
    role.disabled = !fits;
  }
  const chosen = roleSelect.selectedOptions[0];
  if (!chosen || chosen.disabled) {
    const first = [...roleSelect.options].find((role) => !role.disabled);
    if (first) roleSelect.value = first.value;
  }
}

/** Replace every [data-live] region with the server's fresh rendering of this page. */
async function refresh() {
  const response = await fetch(location.pathname, { credentials: 'same-origin' });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
  for (const node of document.querySelectorAll('[data-live]')) {
    const replacement = fresh.querySelector(`[data-live="${node.dataset.live}"]`);
    if (!replacement) continue;
    const value = node instanceof HTMLSelectElement ? node.value : null;
    node.replaceChildren(...[...replacement.childNodes].map((child) => document.importNode(child, true)));
    if (value !== null) node.value = value;
  }
  filterRoles();
}

/** The first empty required field of `form`, with what to type there; null when all are filled. */
function missingField(form, checks) {
  for (const [name, message] of checks) {
    const field = form.elements.namedItem(name);
    if (!String(field.value).trim()) return { field, message };
  }
  return null;
}

/** Submit `form` as JSON to `url`; errors go next to the form, the first bad field gets focus. */
async function submit(form, url, body, checks, done) {
  const error = $(`#${form.id}-error`);
  const status = $(`#${form.id}-status`);
  say(status, '');
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
  const missing = missingField(form, checks);
  if (missing) {
    say(error, missing.message);
    missing.field.setAttribute('aria-invalid', 'true');
    missing.field.focus();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const created = await api(url, json(body));
    say(error, '');
    await done(created);
  } catch (failure) {
    say(error, failure.message);
  } finally {
    button.disabled = false;
  }
}

orgForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const body = { kind: orgForm.elements.kind.value, name: orgForm.elements.name.value.trim() };
  submit(orgForm, '/api/orgs', body, [['name', 'Enter the organisation’s name.']], async (org) => {
    orgForm.elements.name.value = '';
    await refresh();
    // Its first user is the likely next step: offer the new organisation in the user form.
    orgSelect.value = org.id;
    filterRoles();
    say($('#create-org-status'), `Created ${org.name}. You can now add its users.`);
  });
});

userForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const fields = userForm.elements;
  const body = {
    name: fields.name.value.trim(),
    email: fields.email.value.trim(),
    org: fields.org.value,
    role: fields.role.value,
    password: fields.password.value,
  };
  const checks = [
    ['name', 'Enter the user’s name.'],
    ['email', 'Enter the user’s email address.'],
    ['org', 'Choose the organisation the user belongs to.'],
    ['password', 'Enter an initial password of at least 8 characters.'],
  ];
  submit(userForm, '/api/users', body, checks, async (user) => {
    for (const name of ['name', 'email', 'password']) fields[name].value = '';
    await refresh();
    say($('#create-user-status'), `Created ${user.name} (${user.email}) in ${user.org.name}.`);
  });
});
arm(orgForm);
arm(userForm);

// One listener for every row, including the rows a refresh brings.
document.addEventListener('click', async (event) => {
  const button = event.target instanceof Element && event.target.closest('[data-testid="admin-revoke-tokens"]');
  if (!button) return;
  const name = button.dataset.userName;
  button.disabled = true;
  say($('#revoke-error'), '');
  try {
    const result = await api(`/api/users/${encodeURIComponent(button.dataset.userId)}/revoke-tokens`, { method: 'POST' });
    const sessions = `${result.revoked} session${result.revoked === 1 ? '' : 's'} or token${result.revoked === 1 ? '' : 's'} ended`;
    const sockets = result.sockets_closed ? `, ${result.sockets_closed} live connection${result.sockets_closed === 1 ? '' : 's'} closed` : '';
    say($('#revoke-status'), `${name} is signed out everywhere: ${sessions}${sockets}.`);
  } catch (failure) {
    say($('#revoke-error'), `${name} could not be signed out: ${failure.message}`);
  } finally {
    button.disabled = false;
  }
});

orgSelect.addEventListener('change', filterRoles);
filterRoles();
