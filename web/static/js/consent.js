// The recording notice every participant accepts before media flows (docs/protocol.md,
// `consent`), and the phone's optional location that goes with it.

import { $ } from './dom.js';

const LOCATION_WAIT_MS = 10_000;

/**
 * Console: show the notice in a modal dialog until the auditor accepts it. Resolves when
 * "I accept" is pressed; the dialog cannot be dismissed otherwise (leaving is a link).
 */
export function askConsent(notice) {
  const dialog = $('#consent-dialog');
  const accept = $('#consent-accept');
  $('#consent-notice').textContent = notice || '';
  return new Promise((resolve) => {
    const noEscape = (event) => event.preventDefault();
    accept.addEventListener('click', () => {
      dialog.removeEventListener('cancel', noEscape);
      dialog.close();
      resolve();
    }, { once: true });
    dialog.addEventListener('cancel', noEscape);
    if (!dialog.open) dialog.showModal();
    accept.focus();
  });
}

/**
 * The phone's position for the consent log and photos, asked once; null when the person
 * declines, the device has none, or it takes too long.
 */
export function currentLocation() {
  if (!navigator.geolocation || !window.isSecureContext) return Promise.resolve(null);
  return new Promise((resolve) => {
    const done = (value) => {
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => done(null), LOCATION_WAIT_MS);
    navigator.geolocation.getCurrentPosition(
      ({ coords }) => done({
        lat: coords.latitude,
        lon: coords.longitude,
        accuracy: Number.isFinite(coords.accuracy) ? Math.min(coords.accuracy, 1e7) : undefined,
      }),
      () => done(null),
      { enableHighAccuracy: true, timeout: LOCATION_WAIT_MS, maximumAge: 60_000 },
    );
  });
}

const DEVICE_KEY = 'vaudit.device';

/**
 * A random id for this browser, kept in localStorage: the server records consent once per
 * person and device, so a phone that reconnects is not asked (or logged) again.
 */
export function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id || !/^[A-Za-z0-9._-]{8,64}$/.test(id)) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return null; // storage disabled: consent is then asked on every join
  }
}
