// Phone: the auditor asked for a full-resolution photo. Take it with the camera that is
// already running where the browser can (ImageCapture), else with the camera app, keep it
// in the phone's photo queue (photo-queue.js) and let the queue upload it.

import { $ } from './dom.js';
import { QueueFull } from './photo-queue.js';
import { t } from './strings.js';

const SENT_MS = 2_500;
const SAVED_MS = 5_000;
// A photo not sent by then is left to the queue: the person can carry on.
const PATIENCE_MS = 8_000;
const megabytes = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function sizeText(bytes) {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${megabytes.format(bytes / 1024 / 1024)} MB`;
}

/** What a failed upload means for the person holding the phone. */
export function uploadProblem(status, body, retryAfter = null) {
  const code = body && body.error && body.error.code;
  if (code === 'too_many_pixels') return t('photoTooManyPixels');
  if (status === 413 || code === 'too_large') return t('photoTooLarge');
  if (code === 'unsupported_image') return t('photoUnsupported');
  if (status === 429) return t('photoWait', { seconds: retryAfter || '10' });
  if (status === 422 && (code === 'not_an_image' || code === 'damaged_image')) return t('photoNotImage');
  if (status === 401 || status === 403) return t('photoExpired');
  if (status === 409) return t('photoClosed');
  const reason = (body && body.error && body.error.message) || `HTTP ${status}`;
  return t('photoFailed', { reason });
}

const HEIF = /^image\/hei[cf]$|\.hei[cf]$/i;

/**
 * A HEIC/HEIF photo as JPEG when this browser can decode it (Safari can), so that the auditor
 * sees it in any browser; otherwise the file as it is (the server keeps HEIC as sent).
 */
export async function displayable(file) {
  if (!HEIF.test(file.type || '') && !HEIF.test(file.name || '')) return file;
  try {
    const bitmap = await createImageBitmap(file);
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
    bitmap.close();
    const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92));
    return jpeg ? new File([jpeg], 'photo.jpg', { type: 'image/jpeg' }) : file;
  } catch {
    return file;
  }
}

export class PhotoTaker {
  /**
   * `track()` is the live video track; `location()` the position the person allowed, or null;
   * `queue` the PhotoQueue that keeps and sends every photo taken.
   */
  constructor({ queue, track, location, camera = () => null, onDecline = () => {} }) {
    this.queue = queue;
    this.track = track;
    this.location = location;
    this.ownCamera = camera; // this phone's camera number (from `welcome`), or null
    this.camera = null;
    this.checkpoint = null;
    this.requestId = null; // the request on screen, until it is answered
    this.itemId = null; // the queued photo this prompt reports on
    this.onDecline = onDecline;
    this.busy = false;
    this.timer = 0;
    this.els = {
      sheet: $('#photo-sheet'),
      state: $('#photo-state'),
      take: $('#take-photo'),
      takeLabel: $('#take-photo-label'),
      cancel: $('#photo-cancel'),
      input: $('#photo-input'),
    };
    this.els.take.addEventListener('click', () => this.take());
    this.els.cancel.addEventListener('click', () => this.decline());
    this.els.input.addEventListener('change', () => {
      const file = this.els.input.files && this.els.input.files[0];
      this.els.input.value = '';
      if (file) this.upload(file);
    });
  }

  /** A `photo-request` message: show the prompt. */
  request(message) {
    if (this.busy) return; // a photo is on its way already
    clearTimeout(this.timer);
    this.checkpoint = (message && message.checkpoint) || null;
    this.requestId = (message && message.request_id) || null;
    // The camera number the server gave this phone: the photo says which camera took it.
    this.camera = (message && Number.isInteger(message.camera)) ? message.camera : this.ownCamera();
    this.say('');
    this.els.takeLabel.textContent = t('takePhoto');
    this.els.sheet.hidden = false;
    this.els.take.focus();
    if (typeof navigator.vibrate === 'function') navigator.vibrate([60, 60, 60]);
  }

  /** "Not now": the auditor is told at once, so they do not wait for a photo. */
  decline() {
    if (this.busy) return;
    this.onDecline({ request_id: this.requestId, checkpoint: this.checkpoint });
    this.close();
  }

  /** Whether the prompt on screen reports on the queued photo `id`. */
  shows(id) {
    return !this.els.sheet.hidden && this.itemId === id;
  }

  close() {
    if (this.busy) return;
    this.requestId = null;
    clearTimeout(this.timer);
    this.els.sheet.hidden = true;
  }

  async take() {
    if (this.busy) return;
    const track = this.track();
    if (!('ImageCapture' in window) || !track || track.readyState !== 'live') {
      this.els.input.click();
      return;
    }
    this.setBusy(true);
    let blob;
    try {
      blob = await new window.ImageCapture(track).takePhoto();
      if (blob) blob.takenAt = new Date();
    } catch {
      blob = null;
    }
    this.setBusy(false);
    if (blob && blob.size) this.upload(blob);
    // Some phones cannot take a photo from a running stream: use the camera app instead.
    else this.els.input.click();
  }

  /** Keep the photo on the phone first (hash, capture time, request), then let the queue send it. */
  async upload(original) {
    // The camera app's file says when it was taken; a photo from the stream, when it returned.
    const takenAt = original.takenAt || new Date(original.lastModified || Date.now());
    this.setBusy(true);
    this.say(t('photoSaving'), 'busy');
    let item;
    try {
      const file = await displayable(original);
      item = await this.queue.add(file, {
        takenAt: takenAt.toISOString(),
        checkpoint: this.checkpoint,
        requestId: this.requestId,
        camera: this.camera ?? this.ownCamera(),
        location: this.location(),
      });
    } catch (error) {
      this.failed(error instanceof QueueFull ? t('photoQueueFull') : t('photoNotSaved'));
      return;
    }
    this.itemId = item.id;
    this.say(t('photoSending', { size: sizeText(item.size) }), 'busy');
    const patience = new Promise((resolve) => setTimeout(() => resolve({ state: 'queued' }), PATIENCE_MS));
    const outcome = await Promise.race([this.queue.settled(item.id), patience]);
    this.setBusy(false);
    if (outcome.state === 'refused') {
      this.failed(outcome.text);
      return;
    }
    if (outcome.state === 'stranded') {
      this.failed(t(outcome.reason === 'closed' ? 'photoClosed' : 'photoExpired'));
      return;
    }
    const sent = outcome.state === 'sent';
    this.say(sent ? t('photoSent') : t('photoSaved'), sent ? 'ok' : 'info');
    this.timer = setTimeout(() => this.close(), sent ? SENT_MS : SAVED_MS);
  }

  failed(text) {
    this.setBusy(false);
    this.say(text, 'error');
    this.els.takeLabel.textContent = t('retakePhoto');
  }

  setBusy(busy) {
    this.busy = busy;
    this.els.take.disabled = busy;
    this.els.cancel.disabled = busy;
    this.els.take.setAttribute('aria-busy', String(busy));
  }

  say(text, tone = '') {
    this.els.state.textContent = text;
    this.els.state.hidden = !text;
    this.els.state.dataset.tone = tone;
  }
}
