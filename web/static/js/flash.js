// Phone: the auditor captured a picture, so the preview flashes and says to hold still.

import { t } from './strings.js';

const FLASH_MS = 1_200;

export class CapturedFlash {
  constructor(flash, status) {
    this.flash = flash;
    this.status = status;
    this.timer = 0;
  }

  show() {
    const flash = this.flash;
    clearTimeout(this.timer);
    flash.dataset.shown = 'false';
    void flash.offsetWidth; // restart the animation when captures follow each other
    flash.dataset.shown = 'true';
    this.status.textContent = t('capturedTitle');
    if (typeof navigator.vibrate === 'function') navigator.vibrate(50);
    this.timer = setTimeout(() => {
      flash.dataset.shown = 'false';
      this.status.textContent = '';
    }, FLASH_MS);
  }
}
