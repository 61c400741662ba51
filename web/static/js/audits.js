// Audit list: show creation times in the viewer's own time zone.

import { localizeTimes } from './dom.js';

localizeTimes();
