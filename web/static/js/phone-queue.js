// Console: photos taken on the facility phone that have not reached the server yet, as the
// phone reports them over signaling (`photo-queue`): "2 photos queued on the phone".

const REFRESH_MS = 30_000; // the oldest photo's age, kept current while shown

function duration(seconds) {
  if (seconds < 60) return 'under a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export class PhoneQueue {
  constructor(el) {
    this.el = el;
    this.reports = new Map(); // participant id -> {report, at}
    this.timer = 0;
    this.render();
  }

  /**
   * A phone's report. The photos of a phone that left are still on it: its report stays
   * until a phone reports again (a phone that rejoins is a new participant).
   */
  update(report, present) {
    for (const id of this.reports.keys()) if (!present.has(id)) this.reports.delete(id);
    this.reports.set(report.participant_id, { report, at: Date.now() });
    this.render();
  }

  /**
   * A photo arrived: one fewer waits on the phone. Its next report (which may come only once
   * its signaling socket is back) is the authority; this keeps the count honest meanwhile.
   */
  arrived(item) {
    if (!item || item.kind !== 'photo') return;
    const waiting = [...this.reports.values()].find(({ report }) => report.count > 0);
    if (!waiting) return;
    waiting.report = {
      ...waiting.report,
      count: waiting.report.count - 1,
      bytes: Math.max(0, waiting.report.bytes - (item.size || 0)),
    };
    this.render();
  }

  render() {
    clearInterval(this.timer);
    const shown = [...this.reports.values()].filter(({ report }) => report.count > 0);
    const count = shown.reduce((sum, { report }) => sum + report.count, 0);
    this.el.dataset.count = String(count);
    this.el.hidden = count === 0;
    if (!count) {
      this.el.textContent = '';
      return;
    }
    const oldest = Math.max(...shown.map(({ report, at }) => report.oldest_s + (Date.now() - at) / 1000));
    const where = shown.length > 1 ? 'the phones' : 'the phone';
    const photos = count === 1 ? '1 photo' : `${count} photos`;
    this.el.textContent = `${photos} queued on ${where}, the oldest waiting ${duration(oldest)}: sent when the link allows.`;
    this.timer = setInterval(() => this.render(), REFRESH_MS);
  }
}
