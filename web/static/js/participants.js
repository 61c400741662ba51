// Who is in the session, kept in step with welcome / participant-joined / -updated / -left.

import { element } from './dom.js';
import { languageName } from './phone-language.js';

const ROLE_ORDER = { staff: 0, auditor: 1 };
const ROLE_LABELS = { staff: 'Facility', auditor: 'Auditor' };

export class Roster {
  constructor(onChange = () => {}) {
    this.people = new Map();
    this.selfId = null;
    this.onChange = onChange;
  }

  /** Replace everyone with the list from `welcome` (which may or may not include us). */
  reset(self, participants = []) {
    this.people.clear();
    for (const person of participants) this.people.set(person.id, person);
    this.selfId = self ? self.id : null;
    if (self) this.people.set(self.id, { ...this.people.get(self.id), ...self });
    this.onChange();
  }

  upsert(person) {
    if (!person || person.id === undefined) return;
    this.people.set(person.id, { ...this.people.get(person.id), ...person });
    this.onChange();
  }

  updateSelf(changes) {
    if (this.selfId !== null) this.upsert({ id: this.selfId, ...changes });
  }

  remove(id) {
    if (this.people.delete(id)) this.onChange();
  }

  /** Everyone, facility staff first, then by name. */
  list() {
    return [...this.people.values()].sort((a, b) =>
      (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9) || String(a.name).localeCompare(String(b.name)));
  }

  others(role) {
    return this.list().filter((person) => person.id !== this.selfId && (!role || person.role === role));
  }
}

function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((word) => word[0].toUpperCase()).join('') || '?';
}

function participantItem(person, isSelf) {
  const item = element('li', 'participant');
  item.dataset.testid = 'participant';
  item.dataset.role = person.role;
  item.dataset.id = person.id;
  item.dataset.audio = String(Boolean(person.audio));
  item.dataset.paused = String(Boolean(person.paused));
  if (person.lang) item.dataset.lang = person.lang;

  const avatar = element('span', 'avatar', initials(person.name));
  avatar.setAttribute('aria-hidden', 'true');

  const main = element('span', 'participant-main');
  main.append(element('span', 'participant-name', person.name || 'Unnamed'));
  const details = [ROLE_LABELS[person.role] || person.role];
  if (isSelf) details.push('you');
  if (person.role === 'staff' && person.paused) details.push('camera paused');
  else if (person.role === 'staff' && person.video === false) details.push('camera off');
  if (person.role === 'staff' && person.lang) details.push(`phone in ${languageName(person.lang)}`);
  main.append(element('span', 'participant-role', details.join(' · ')));

  const mic = element('span', 'mic-state', person.audio ? 'Mic on' : 'Muted');
  mic.dataset.on = String(Boolean(person.audio));

  item.append(avatar, main, mic);
  return item;
}

/** Draw the roster into the `participants` list. */
export function renderParticipants(list, emptyNote, roster) {
  const people = roster.list();
  list.replaceChildren(...people.map((person) => participantItem(person, person.id === roster.selfId)));
  if (emptyNote) emptyNote.hidden = people.length > 0;
}
