// Audit report: the page prints itself on A4 (see app.css); this only wires the Print button.

import { $ } from './dom.js';

$('#print-report').addEventListener('click', () => window.print());
