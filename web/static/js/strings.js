// Every text of the facility pages (staff, tech check) comes from one catalogue per
// language, web/static/i18n/<lang>.json, that translators edit without touching code. The
// server embeds the catalogue of the language the browser asked for (#i18n); the page then
// follows the person's own choice (the switcher, remembered on this phone) or else the
// browser's languages, loading another catalogue when it has to.

const STORE_KEY = 'vaudit.lang';
const source = document.getElementById('i18n');
const data = source ? JSON.parse(source.textContent) : { lang: 'en', languages: { en: 'English' }, strings: {} };
const base = source ? source.dataset.base : '/static/i18n/';

/** The languages the pages speak: code -> the language's own name. */
export const LANGUAGES = data.languages;

let language = data.lang;
let strings = data.strings;
const listeners = new Set();

export function primarySubtag(tag) {
  return String(tag || '').toLowerCase().split(/[-_]/)[0];
}

function remembered() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage refused (private mode): the browser's languages decide
  }
}

/** The language to show: the person's choice, else the first of the browser's we speak. */
export function preferredLanguage() {
  const chosen = remembered();
  if (chosen && chosen in LANGUAGES) return chosen;
  const browser = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return browser.map(primarySubtag).find((code) => code in LANGUAGES) || 'en';
}

/** The page's language (a primary subtag: 'vi', 'zh'). */
export function currentLanguage() {
  return language;
}

/** The language to announce in `join`: the page's, so the server answers in it. */
export function joinLanguage() {
  return language;
}

/** The text for `key`, with {placeholders} filled from vars. */
export function t(key, vars = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

/** Fill every [data-i18n] element (and [data-i18n-label] aria-label) below root. */
export function applyStrings(root = document) {
  document.documentElement.lang = language;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-label]')) node.setAttribute('aria-label', t(node.dataset.i18nLabel));
  const switcher = document.getElementById('language-switcher');
  if (switcher) switcher.value = language;
}

async function fetchCatalogue(lang) {
  const response = await fetch(`${base}${lang}.json`, { credentials: 'omit' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/** Show the page in `lang`; `remember` keeps the choice for the next visit on this phone. */
export async function setLanguage(lang, { remember = false } = {}) {
  if (!(lang in LANGUAGES)) return;
  if (remember) {
    try { localStorage.setItem(STORE_KEY, lang); } catch { /* not remembered, still shown */ }
  }
  if (lang !== language) {
    try {
      strings = await fetchCatalogue(lang);
      language = lang;
    } catch (error) {
      console.warn(`catalogue ${lang} could not be loaded:`, error.message);
    }
  }
  applyStrings();
  for (const listener of listeners) listener(language);
}

/** Call `listener(lang)` whenever the page's language changes. */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

/** Settle the page's language (before anything is shown) and wire the switcher. */
export async function loadStrings() {
  await setLanguage(preferredLanguage());
  const switcher = document.getElementById('language-switcher');
  if (switcher) switcher.addEventListener('change', () => setLanguage(switcher.value, { remember: true }));
}
