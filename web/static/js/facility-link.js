// The console's view of the facility's link (the server's `facility-link` messages): is
// the phone's video reaching the server, and if not, for how long has it been missing. Shown
// apart from the auditor's own connection badge, so that "the facility lost its network"
// and "I am offline" never look alike.

const LABELS = { live: 'Facility live', reconnecting: 'Facility reconnecting', offline: 'Facility offline' };

/** "12 s", "3 min", "1 h 5 min". */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

export class FacilityLinkBadge {
  /** `root` is the badge element; `onGap(ms)` hears how long a gap lasted when video is back. */
  constructor(root, { onGap = () => {} } = {}) {
    this.root = root;
    this.text = root.querySelector('.state-text');
    this.onGap = onGap;
    this.state = 'offline';
    this.since = Date.now();
    this.known = false; // no message yet: the badge stays hidden
    this.timer = setInterval(() => this.render(), 1_000);
  }

  /** A `facility-link` message. */
  update(message) {
    this.known = true;
    this.state = message.state;
    this.since = Date.now() - (Number(message.elapsed_ms) || 0);
    if (message.state === 'live' && Number.isFinite(message.gap_ms)) this.onGap(message.gap_ms);
    this.render();
  }

  /** The session is over: nothing more to tell. */
  stop() {
    clearInterval(this.timer);
    this.root.hidden = true;
  }

  render() {
    this.root.hidden = !this.known;
    this.root.dataset.state = this.state;
    let text = LABELS[this.state] || LABELS.offline;
    // How long the facility has been gone; an offline facility that was never live has no "since".
    if (this.state !== 'live') text += ` · ${duration(Date.now() - this.since)}`;
    this.text.textContent = text;
    this.root.title = this.state === 'live'
      ? 'The facility phone\'s video is reaching the server.'
      : 'The facility phone\'s video is not reaching the server. Your own connection is shown next to it.';
  }
}
