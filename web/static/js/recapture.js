// Re-capture from the same angle: the phone's camera view with the finding's original picture
// laid over it, faint (opacity slider, toggle). The photo taken becomes the response's file.

import { arm } from './dom.js';

const QUALITY = 0.92;

function setFile(input, blob) {
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], 'recapture.jpg', { type: 'image/jpeg' }));
  input.files = transfer.files;
}

function stop(video) {
  const stream = video.srcObject;
  if (stream) for (const track of stream.getTracks()) track.stop();
  video.srcObject = null;
}

/** The part of the frame the stage shows (object-fit: cover in a box of the original's shape). */
export function visibleCrop(width, height, aspect) {
  if (!aspect || !width || !height) return { x: 0, y: 0, w: width, h: height };
  if (width / height > aspect) {
    const w = Math.round(height * aspect);
    return { x: Math.round((width - w) / 2), y: 0, w, h: height };
  }
  const h = Math.round(width / aspect);
  return { x: 0, y: Math.round((height - h) / 2), w: width, h };
}

function frameBlob(video, aspect) {
  const crop = visibleCrop(video.videoWidth, video.videoHeight, aspect);
  const canvas = document.createElement('canvas');
  canvas.width = crop.w;
  canvas.height = crop.h;
  canvas.getContext('2d').drawImage(video, crop.x, crop.y, crop.w, crop.h, 0, 0, crop.w, crop.h);
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('no picture'))), 'image/jpeg', QUALITY);
  });
}

const ENGLISH = {
  hide: 'Hide original',
  show: 'Show original',
  cameraFailed: 'The camera did not start ({error}). Use the photo button instead.',
  photoReady: 'New photo ready: it is sent with your response.',
};

export function setupRecapture(section, say, texts = {}) {
  const t = { ...ENGLISH, ...texts };
  const form = section.querySelector('form[data-capa-response]');
  const panel = section.querySelector('[data-recapture]');
  const open = section.querySelector('[data-recapture-open]');
  if (!form || !panel || !open) return;
  const video = panel.querySelector('video');
  const ghost = panel.querySelector('.recapture-ghost');
  const slider = panel.querySelector('input[type=range]');
  const toggle = panel.querySelector('[data-recapture-toggle]');
  const taken = section.querySelector('[data-recapture-taken]');
  const input = form.elements.file;
  const stage = panel.querySelector('.recapture-stage');
  let shown = true;
  let aspect = 0;
  ghost.addEventListener('load', () => {
    aspect = ghost.naturalWidth / ghost.naturalHeight;
    stage.style.aspectRatio = `${ghost.naturalWidth} / ${ghost.naturalHeight}`;
  });

  const applyOpacity = () => {
    ghost.style.opacity = shown ? String(Number(slider.value) / 100) : '0';
    toggle.textContent = shown ? t.hide : t.show;
    toggle.setAttribute('aria-pressed', String(shown));
    panel.dataset.ghost = shown ? 'shown' : 'hidden';
  };
  slider.addEventListener('input', applyOpacity);
  toggle.addEventListener('click', () => {
    shown = !shown;
    applyOpacity();
  });

  const close = () => {
    stop(video);
    panel.hidden = true;
    open.hidden = false;
    panel.dataset.state = 'closed';
  };
  panel.querySelector('[data-recapture-close]').addEventListener('click', close);

  open.addEventListener('click', async () => {
    if (!ghost.src) ghost.src = section.dataset.original;
    applyOpacity();
    panel.hidden = false;
    open.hidden = true;
    panel.dataset.state = 'starting';
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 1920 }, height: { ideal: 1080 } },
        audio: false,
      });
      await video.play();
      panel.dataset.state = 'live';
    } catch (error) {
      close();
      say(form, t.cameraFailed.replace('{error}', error.message));
    }
  });
  arm(open);

  panel.querySelector('[data-recapture-shoot]').addEventListener('click', async () => {
    if (!video.videoWidth) return; // no frame yet
    const blob = await frameBlob(video, aspect);
    setFile(input, blob);
    taken.src = URL.createObjectURL(blob);
    taken.hidden = false;
    close();
    panel.dataset.state = 'taken';
    say(form, t.photoReady);
  });
}
