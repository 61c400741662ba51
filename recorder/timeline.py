"""Encoded frames as the recorder receives them, and the time line they are placed on.

Timestamps come from the sender's RTP timestamps, not from arrival times: the phone
stamps each frame when it is captured, so RTP deltas play back smoothly however much the
network jittered. Audio and video RTP clocks start at unrelated random values, so each
kind is anchored to the server clock (``arrival_ns``) at its first frame and from then on
advances by RTP deltas only. Audio/video sync is therefore as good as the arrival jitter
of those two anchor frames, typically a few tens of milliseconds.

A kind is re-anchored to the server clock when its RTP clock and its arrival times
disagree by more than :data:`RESYNC_NS` between consecutive frames (the sender restarted
its RTP clock, or the stream stalled for a long time), or when its RTP timestamp stops
increasing. Re-anchoring never moves time backwards: every kind's time line is strictly
increasing, which is what the muxer requires.

Across kinds, no frame is placed more than :data:`MAX_BEHIND_NS` before the latest frame
already placed: the muxer interleaves the two kinds only within 0.4 s (see
``recorder.container``), and a WebM cluster whose blocks go back in time is refused by
browsers' Media Source Extensions, so the whole segment would not replay. A frame that far
behind is placed at that bound instead (a burst of frames the network held back plays a
little faster; their RTP timestamps stay in the index). A kind still behind after
:data:`BEHIND_FOR_NS` has a late anchor, not late frames (a large first key frame on a thin
uplink, say): it is moved forward once to the latest time, the best guess of sync.
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
CLOCKS = {"video": VIDEO_CLOCK, "audio": AUDIO_CLOCK}
RESYNC_NS = 5_000_000_000
MAX_BEHIND_NS = 300_000_000
BEHIND_FOR_NS = 2_000_000_000
RTP_WRAP = 1 << 32
NS = 1_000_000_000


class Frame(Protocol):
    """One complete encoded video frame or audio packet, exactly as the sender encoded it.

    ``rtp_timestamp`` runs at 90 kHz for video and 48 kHz for Opus and wraps at 2**32;
    ``arrival_ns`` is the server's wall clock (``time.time_ns()``) when the frame arrived.
    """

    @property
    def kind(self) -> str: ...
    @property
    def codec(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def rtp_timestamp(self) -> int: ...
    @property
    def arrival_ns(self) -> int: ...
    @property
    def keyframe(self) -> bool: ...


def unwrap(previous: int, rtp_timestamp: int) -> int:
    """Extend a 32-bit RTP timestamp to the value nearest ``previous`` (an extended timestamp)."""
    delta = (rtp_timestamp - previous) % RTP_WRAP
    if delta >= RTP_WRAP // 2:
        delta -= RTP_WRAP
    return previous + delta


def convert(ticks: int, from_rate: int, to_rate: int) -> int:
    """The same instant in another clock's ticks (rounded down)."""
    return ticks * to_rate // from_rate


class _KindClock:
    """One kind's RTP clock, anchored to the session's zero on the server clock."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._last_ext: int | None = None
        self._last_arrival = 0
        self._last_ticks: int | None = None
        self._anchor_ext = 0
        self._anchor_ticks = 0
        self.placed: int | None = None  # the last ticks given out (after any bound)
        self.behind_since: int | None = None  # arrival of the first frame of a run held to the bound

    def place(self, rtp_timestamp: int, arrival_ns: int, zero_ns: int) -> int:
        if self._last_ext is None:
            ext = rtp_timestamp
            self._anchor(ext, arrival_ns, zero_ns)
        else:
            ext = unwrap(self._last_ext, rtp_timestamp)
            if self._discontinuous(ext, arrival_ns):
                self._anchor(ext, arrival_ns, zero_ns)
        ticks = self._anchor_ticks + ext - self._anchor_ext
        self._last_ext, self._last_arrival, self._last_ticks = ext, arrival_ns, ticks
        return ticks

    def _discontinuous(self, ext: int, arrival_ns: int) -> bool:
        assert self._last_ext is not None
        if ext <= self._last_ext:
            return True
        media_ns = (ext - self._last_ext) * NS // self.rate
        return abs(media_ns - (arrival_ns - self._last_arrival)) > RESYNC_NS

    def _anchor(self, ext: int, arrival_ns: int, zero_ns: int) -> None:
        ticks = (arrival_ns - zero_ns) * self.rate // NS
        if self._last_ticks is not None:
            log.info("RTP clock at %d Hz re-anchored to the server clock", self.rate)
            ticks = max(ticks, self._last_ticks + 1)
        self._anchor_ext, self._anchor_ticks = ext, ticks

    def advance(self, ticks: int) -> None:
        """Move this kind's time line forward by ``ticks`` from its last frame on."""
        assert self._last_ticks is not None
        self._anchor_ticks += ticks
        self._last_ticks += ticks


class Timeline:
    """Places frames of both kinds on one session time line, in each kind's own clock ticks.

    Tick 0 is the arrival of the session's first frame; ``ticks / clock rate`` is the same
    instant for audio and video. :meth:`reset` starts a new session (the sender rejoined).
    """

    def __init__(self) -> None:
        self._zero_ns: int | None = None
        self._clocks: dict[str, _KindClock] = {}
        self._latest_ns = 0  # the latest time placed, of either kind, from the session's zero

    def reset(self) -> None:
        self._zero_ns = None
        self._clocks.clear()
        self._latest_ns = 0

    def place(self, frame: Frame) -> int:
        """Session time of ``frame`` in ticks of its kind's clock (strictly increasing per kind)."""
        if self._zero_ns is None:
            self._zero_ns = frame.arrival_ns
        clock = self._clocks.get(frame.kind)
        if clock is None:
            clock = self._clocks[frame.kind] = _KindClock(CLOCKS[frame.kind])
        ticks = clock.place(frame.rtp_timestamp, frame.arrival_ns, self._zero_ns)
        behind = self._latest_ns - ticks * NS // clock.rate
        if behind <= MAX_BEHIND_NS:
            clock.behind_since = None
        else:
            if clock.behind_since is None:
                clock.behind_since = frame.arrival_ns
            if frame.arrival_ns - clock.behind_since >= BEHIND_FOR_NS:
                step = -(-behind * clock.rate // NS)  # rounded up: not before the latest
                log.info(
                    "%s %.2f s behind the other kind for %.0f s: moved forward",
                    frame.kind,
                    behind / NS,
                    BEHIND_FOR_NS / NS,
                )
                clock.advance(step)
                clock.behind_since = None
                ticks += step
            else:
                ticks = -(-(self._latest_ns - MAX_BEHIND_NS) * clock.rate // NS)
        if clock.placed is not None:
            ticks = max(ticks, clock.placed + 1)
        clock.placed = ticks
        self._latest_ns = max(self._latest_ns, ticks * NS // clock.rate)
        return ticks
