// Every text of the facility (staff) page, per language. To add a language, add an object
// with the same keys under its BCP 47 primary subtag; missing keys fall back to English.

export const STRINGS = {
  en: {
    introEyebrow: 'Remote audit',
    introLead: 'You will show the auditor around the site with this phone.',
    introExplain: 'The auditor will see and hear what your camera and microphone capture. The session is recorded as audit evidence.',
    introTip1: 'The back camera is used. Hold the phone steady and move slowly.',
    introTip2: 'The auditor will tell you where to go and what to show.',
    introTip3: 'Keep this page open until the auditor ends the session.',
    start: 'Start',
    starting: 'Starting camera…',
    stateConnecting: 'Connecting…',
    stateConnected: 'Live',
    stateReconnecting: 'Reconnecting…',
    stateFailed: 'Disconnected',
    mute: 'Mute',
    switchCamera: 'Flip',
    torch: 'Light',
    micOff: 'Your microphone is off',
    connectingHint: 'Connecting to the auditor…',
    reconnectingHint: 'Connection lost. Reconnecting — keep this page open.',
    waitingAuditor: 'Waiting for the auditor',
    withAuditors: 'With {names}',
    switchFailed: 'The other camera could not be opened.',
    torchFailed: 'The light could not be switched.',
    cameraLost: 'The camera stopped. Return to this page to restart it.',
    capturedTitle: 'Captured — hold still',
    capturedBody: 'The auditor saved a picture of this view.',
    expiredTitle: 'Link no longer valid',
    expiredBody: 'This invite link has expired or was revoked. Ask the auditor for a new one.',
    completedTitle: 'Audit finished',
    completedBody: 'This audit has been completed. Thank you — you can close this page.',
    notFoundTitle: 'Audit not found',
    notFoundBody: 'This link does not lead to an audit. Ask the auditor for a new one.',
    deniedTitle: 'Allow camera and microphone',
    deniedBody: 'The auditor cannot see the site until this page may use the camera and microphone.',
    deniedIphone: 'iPhone (Safari): tap “aA” in the address bar, then Website Settings, and set Camera and Microphone to Allow.',
    deniedAndroid: 'Android (Chrome): tap the icon left of the web address, then Permissions, and allow Camera and Microphone.',
    deniedAfter: 'Then tap Try again. If nothing changes, reload the page.',
    noCameraTitle: 'No camera found',
    noCameraBody: 'This device has no camera the page can use. Open the link on a phone with a camera.',
    busyTitle: 'Camera in use',
    busyBody: 'Another app is using the camera. Close it (video calls, the camera app), then tap Try again.',
    insecureTitle: 'Secure connection needed',
    insecureBody: 'The camera only works on a secure page. Ask the auditor for a link that starts with https://.',
    unknownTitle: 'The camera could not start',
    unknownBody: 'Tap Try again. If it keeps failing, close the browser and open the link again.',
    retry: 'Try again',
  },
};

// Languages the server is told about in `join`, so it can offer help in that language.
const JOIN_LANGUAGES = ['zh', 'vi', 'es', 'hi', 'bn', 'id'];

function primarySubtag(tag) {
  return String(tag || '').toLowerCase().split(/[-_]/)[0];
}

/** The primary language subtag to send in `join`, or null when it is not one we announce. */
export function joinLanguage(tag = navigator.language) {
  const primary = primarySubtag(tag);
  return JOIN_LANGUAGES.includes(primary) ? primary : null;
}

function pageLanguage() {
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return preferred.map(primarySubtag).find((code) => code in STRINGS) || 'en';
}

const language = pageLanguage();

/** The text for `key`, with {placeholders} filled from vars. */
export function t(key, vars = {}) {
  const text = (STRINGS[language] && STRINGS[language][key]) ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

/** Fill every [data-i18n] element below root with its text. */
export function applyStrings(root = document) {
  document.documentElement.lang = language;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
}
