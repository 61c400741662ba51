// Phone: the invite link no longer opens (its audit completed, the link revoked or expired).
// Photos of that audit still kept on this phone are shown, never sent, and can be saved.

import { readConfig } from './dom.js';
import { PhotoQueue } from './photo-queue.js';
import { PhotoRescue } from './photo-rescue.js';
import { applyStrings, t } from './strings.js';

const config = readConfig();
const panel = document.getElementById('photo-stranded');
applyStrings(panel); // the server's language for this page; the rest is already in it
const queue = new PhotoQueue({
  auditId: config.audit_id,
  token: null, // nothing is sent from here
  problem: () => '',
  damaged: () => t('photoDamaged'),
  ended: config.ended,
});
new PhotoRescue(queue);
queue.open();
