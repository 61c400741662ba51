// Every text of the facility (staff) page, per language. To add a language, add an object
// with the same keys under its BCP 47 primary subtag; missing keys fall back to English.

export const STRINGS = {
  en: {
    introEyebrow: 'Remote audit',
    introLead: 'You will show the auditor around the site with this phone.',
    consentTitle: 'This session is recorded',
    consentLoading: 'Loading the recording notice…',
    consentLocation: 'You will also be asked for your location. It is optional: you can say no and still take part.',
    techCheckLink: 'Test my phone first',
    techCheckHint: 'Camera, microphone and connection, best the day before',
    connecting: 'Connecting…',
    introTip1: 'The back camera is used. Hold the phone steady and move slowly.',
    introTip2: 'The auditor will tell you where to go and what to show.',
    introTip3: 'Keep this page open until the auditor ends the session.',
    start: 'Start',
    accept: 'I agree — start',
    starting: 'Starting camera…',
    locating: 'Asking for your location…',
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
    stepOf: 'Step {n} of {total}',
    waitDirections: 'Wait for the auditor’s directions',
    rec: 'REC',
    recLabel: ': this session is being recorded',
    photoTitle: 'The auditor asks for a photo',
    photoBody: 'Hold the phone steady, point it at what the auditor asked for, and take the photo.',
    takePhoto: 'Take photo',
    retakePhoto: 'Try again',
    photoCancel: 'Not now',
    pause: 'Pause',
    resume: 'Resume',
    pausedBanner: 'Camera paused: the auditor sees nothing. Tap Resume to continue.',
    photoSending: 'Sending the photo ({size})…',
    photoSent: 'Photo sent to the auditor ✓',
    photoTooLarge: 'The photo is too large (over 15 MB). Take it again at a lower resolution.',
    photoNotImage: 'That file is not a picture. Take the photo again.',
    photoTooManyPixels: 'The photo has too many pixels. Take it again at a lower resolution.',
    photoUnsupported: 'This kind of picture is not accepted. Take the photo as JPEG (the camera app’s most compatible setting).',
    photoWait: 'Too many photos in a short time. Wait {seconds} s, then try again.',
    photoExpired: 'This link no longer works. Ask the auditor for a new one.',
    photoClosed: 'The audit is finished: no more photos are needed.',
    photoOffline: 'The photo could not be sent: no connection. Check the network and try again.',
    photoFailed: 'The photo could not be sent ({reason}). Try again.',
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
    tcTitle: 'Test my phone',
    tcLead: 'Check that this phone is ready for the remote audit: camera, microphone and connection. It takes under a minute; nothing is recorded.',
    tcRun: 'Start the test',
    tcRunAgain: 'Test again',
    tcRunning: 'Testing…',
    tcCamera: 'Camera',
    tcMicrophone: 'Microphone',
    tcServer: 'Connection to the server',
    tcUpload: 'Upload speed',
    tcPending: 'Not tested yet',
    tcTesting: 'Testing…',
    tcCameraOk: 'Works: {video}',
    tcCameraLow: 'Works, but only {video}: the auditor may not read labels and seal numbers. Use the back camera, or another phone.',
    tcCameraDenied: 'Blocked. Allow the camera for this site in the browser settings, then test again.',
    tcCameraMissing: 'No camera found, or another app is using it. Close other apps that use the camera, then test again.',
    tcMicListening: 'Listening… say a few words and watch the bar move.',
    tcMicOk: 'Works: sound was heard.',
    tcMicQuiet: 'Works, but we heard nothing. Check the microphone is not covered, then speak while testing.',
    tcMicDenied: 'Blocked. Allow the microphone for this site in the browser settings, then test again.',
    tcMicMissing: 'No microphone found. The auditor would not hear you.',
    tcServerOk: 'Reached in {rtt} ms',
    tcServerSlow: 'Reached, but slowly ({rtt} ms). Move to a place with better signal.',
    tcServerFailed: 'The server could not be reached. Check the Wi-Fi or mobile data, then test again.',
    tcUploadOk: '{kbps} kbit/s: fast enough for clear video',
    tcUploadSlow: 'Upload is slow ({kbps} kbit/s): move closer to the Wi-Fi router or use mobile data.',
    tcUploadFailed: 'The upload test failed. Check the Wi-Fi or mobile data, then test again.',
    tcAllOk: 'This phone is ready for the audit.',
    tcSomeFailed: 'Fix the items marked ✗, then test again.',
    tcSent: 'The auditor can see these results.',
    tcNotSent: 'The results could not be sent to the auditor ({reason}).',
    tcBack: 'Back to the audit link',
    tcInsecure: 'This page needs a secure connection (https://) to use the camera. Ask the auditor for a link that starts with https://.',
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
