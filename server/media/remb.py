"""The server's bandwidth feedback to the phone: REMB from throughput and loss, not delay.

aiortc's own estimator is delay-based: it times each packet when the event loop gets to
it, so a busy server reads its own lag as congestion and tells the phone to send 30-200
kbit/s on an idle link. Without any REMB, the browser's loss-based estimate grows without
bound while the camera sends little, and a link that then shrinks takes seconds of heavy
loss (a frozen picture) to be noticed.

This estimator looks only at what the server can count reliably: the bytes that arrived
in the last interval and the packets missing from the sequence numbers.

* loss over ``HIGH_LOSS``: the link is full; allow a little less than what got through;
* loss under ``LOW_LOSS``: allow at least what got through times ``GROWTH`` plus
  ``HEADROOM`` (a phone whose scene gets busier ramps up step by step); keep a higher
  estimate, so an encoder that sends less than allowed does not drag it down, but never
  above ``CAP_FACTOR`` times what got through plus ``CAP_HEADROOM`` (a camera that sends
  little must not leave an estimate that a link shrinking under it cannot carry);
* in between: hold.

The browser takes the smaller of this and its own loss-based estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiortc.utils import uint16_add, uint16_gt

INTERVAL_S = 0.5
HIGH_LOSS, LOW_LOSS = 0.10, 0.02
BACKOFF = 0.85
GROWTH, HEADROOM_BPS = 1.2, 40_000
CAP_FACTOR, CAP_HEADROOM_BPS = 2.0, 200_000
MIN_BPS, MAX_BPS = 50_000, 2_500_000


@dataclass
class ThroughputEstimator:
    """Feed every video packet with :meth:`add`; it returns a bitrate (bit/s) to report, or None."""

    clock: Callable[[], float]
    estimate: int = MAX_BPS
    _start: float | None = None
    _bytes: int = 0
    _highest: int | None = None
    _advanced: int = 0  # how far the highest sequence number moved this interval
    _missing: int = 0  # numbers skipped on the way
    _late: int = 0  # packets older than the highest: resends and reordering filling holes

    def add(self, sequence_number: int, size: int) -> int | None:
        now = self.clock()
        if self._start is None or self._highest is None:
            self._start, self._highest = now, sequence_number
        elif uint16_gt(sequence_number, self._highest):
            jump = uint16_add(sequence_number, -self._highest)
            self._advanced += jump
            self._missing += jump - 1
            self._highest = sequence_number
        else:
            self._late += 1
        self._bytes += size
        elapsed = now - self._start
        if elapsed < INTERVAL_S:
            return None
        loss = max(0, self._missing - self._late) / self._advanced if self._advanced else 0.0
        rate = self._bytes * 8 / elapsed
        self._start, self._bytes, self._advanced, self._missing, self._late = now, 0, 0, 0, 0
        return self.update(rate, loss)

    def update(self, rate_bps: float, loss: float) -> int:
        """The new estimate after an interval that delivered ``rate_bps`` and lost ``loss``."""
        if loss > HIGH_LOSS:
            target = BACKOFF * rate_bps
        elif loss < LOW_LOSS:
            # At least a little over what got through (a busier scene ramps up step by step);
            # a higher estimate is kept, so an encoder that sends less than allowed does not
            # drag it down, but never far above what the link carried (a link that then
            # shrinks must show within an interval or two).
            ceiling = CAP_FACTOR * rate_bps + CAP_HEADROOM_BPS
            target = max(GROWTH * rate_bps + HEADROOM_BPS, min(float(self.estimate), ceiling))
        else:
            target = float(self.estimate)
        self.estimate = int(min(MAX_BPS, max(MIN_BPS, target)))
        return self.estimate
