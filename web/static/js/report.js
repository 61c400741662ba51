// Audit report: the page prints itself on A4 (see app.css); the Print button, and for the
// firm the sharing controls and the access log, which are never printed.

import { AccessLog } from './access-log.js';
import { $, arm, readConfig } from './dom.js';
import { Sharing } from './sharing.js';

const config = readConfig();

const print = $('#print-report');
print.addEventListener('click', () => window.print());
arm(print);

const log = $('#access-log') ? new AccessLog(config.audit_id) : null;
if (log) log.load();

if ($('#share-form')) {
  const sharing = new Sharing(config.audit_id);
  // Sharing and unsharing are logged: show the new entry.
  if (log) sharing.addEventListener('changed', () => log.load());
  sharing.load();
}
