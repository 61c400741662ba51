"""The facility phone's uplink as the auditors see it: the phone's numbers beside the server's.

The phone samples its ``RTCPeerConnection.getStats()`` every ~2 s and sends an
``uplink-stats`` message. For each one the server takes its own receiver view of that
phone's video over the same interval (bytes, frames and keyframes that reached the tap,
packets aiortc counted as lost) and the auditors get both in one ``uplink`` message, with
a verdict: is the video under the floor of what an auditor can still use?

The floor (docs/architecture.md, "Thin uplinks"): video under ``FLOOR_KBPS`` while the
phone's encoder says the bandwidth limits it (a still scene needs few bits), or under
``FLOOR_FPS`` frames a second, or pictures under ``FLOOR_HEIGHT`` lines. One bad sample
is a hiccup; ``WEAK_AFTER`` in a row (about 6 s) is a weak link, and it takes
``CLEAR_AFTER`` good ones in a row to clear it, so the badge does not flicker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from server.media.tap import ReceiverTap
from server.signaling.messages import UplinkStats

FLOOR_KBPS = 200.0
FLOOR_FPS = 8.0
FLOOR_HEIGHT = 240
WEAK_AFTER = 3
CLEAR_AFTER = 2
MIN_INTERVAL_S = 1.0  # a phone reports every ~2 s; faster reports are refused
MAX_INTERVAL_S = 30.0  # beyond this the previous receiver sample says nothing about now


@dataclass(frozen=True)
class ReceiverSample:
    """Running totals of one tapped video receiver at one moment."""

    at: float
    frames: int
    bytes: int
    keyframes: int
    gaps: int
    packets_received: int | None = None
    packets_lost: int | None = None


@dataclass(frozen=True)
class ReceiverView:
    """What reached the server from the phone between two samples."""

    video_kbps: float
    fps: float
    keyframes: int
    gaps: int  # frames given up on (a packet lost for good)
    loss: float | None  # fraction of packets lost, when aiortc counted any

    def json(self) -> dict[str, Any]:
        out = asdict(self)
        out["video_kbps"] = round(self.video_kbps, 1)
        out["fps"] = round(self.fps, 1)
        out["loss"] = None if self.loss is None else round(self.loss, 4)
        return out


def receiver_view(before: ReceiverSample, now: ReceiverSample) -> ReceiverView | None:
    """The interval between two samples; None when it is too short or too long to mean much."""
    span = now.at - before.at
    if not 0.5 <= span <= MAX_INTERVAL_S:
        return None
    loss: float | None = None
    if None not in (before.packets_received, before.packets_lost, now.packets_received, now.packets_lost):
        assert before.packets_received is not None and now.packets_received is not None
        assert before.packets_lost is not None and now.packets_lost is not None
        received = now.packets_received - before.packets_received
        lost = max(0, now.packets_lost - before.packets_lost)
        loss = lost / (received + lost) if received + lost > 0 else None
    return ReceiverView(
        video_kbps=max(0, now.bytes - before.bytes) * 8 / 1000 / span,
        fps=max(0, now.frames - before.frames) / span,
        keyframes=max(0, now.keyframes - before.keyframes),
        gaps=max(0, now.gaps - before.gaps),
        loss=loss,
    )


async def sample_receiver(tap: ReceiverTap, at: float) -> ReceiverSample:
    """The tap's totals now, and aiortc's packet counts for its stream."""
    received = lost = None
    report = await tap.receiver.getStats()
    for stats in report.values():
        if getattr(stats, "type", None) == "inbound-rtp":
            received, lost = int(stats.packetsReceived), int(stats.packetsLost)
    buffer = tap.buffer
    return ReceiverSample(at, buffer.frames, buffer.bytes, buffer.keyframes, buffer.gaps, received, lost)


def below_floor(phone: UplinkStats, server: ReceiverView | None) -> list[str]:
    """Which parts of the floor the video is under: ``bitrate``, ``frame_rate``, ``resolution``.

    What reached the server counts over what the phone says it sent: the auditor sees the former.
    """
    kbps = server.video_kbps if server is not None else phone.video_kbps
    fps = server.fps if server is not None else phone.fps
    reasons: list[str] = []
    # A still scene needs few bits: a low bitrate counts only when the link is what limits it.
    if kbps is not None and kbps < FLOOR_KBPS and phone.limit == "bandwidth":
        reasons.append("bitrate")
    if fps is not None and fps < FLOOR_FPS:
        reasons.append("frame_rate")
    if phone.height is not None and phone.height < FLOOR_HEIGHT:
        reasons.append("resolution")
    return reasons


def phone_json(stats: UplinkStats) -> dict[str, Any]:
    return asdict(stats)


def floor_json() -> dict[str, Any]:
    return {"video_kbps": FLOOR_KBPS, "fps": FLOOR_FPS, "height": FLOOR_HEIGHT}


@dataclass
class UplinkMonitor:
    """One phone connection's uplink reports: the last receiver sample and the weak-link verdict."""

    clock: Callable[[], float] = time.monotonic
    last: ReceiverSample | None = None
    last_report: float | None = None
    under: int = 0
    over: int = 0
    weak: bool = False
    below: list[str] = field(default_factory=list)

    def too_soon(self) -> float:
        """0.0 when a report may be taken now, else the seconds until it may."""
        if self.last_report is None:
            return 0.0
        return max(0.0, MIN_INTERVAL_S - (self.clock() - self.last_report))

    def judge(self, reasons: list[str], judged: bool) -> bool:
        """Update the verdict with one sample; ``judged`` is False while video is paused on purpose."""
        self.below = reasons if judged else []
        if not judged:
            self.under = self.over = 0
            self.weak = False
        elif reasons:
            self.under, self.over = self.under + 1, 0
            self.weak = self.weak or self.under >= WEAK_AFTER
        else:
            self.under, self.over = 0, self.over + 1
            self.weak = self.weak and self.over < CLEAR_AFTER
        return self.weak

    async def report(
        self, participant: dict[str, Any], stats: UplinkStats, tap: ReceiverTap | None, paused: bool
    ) -> dict[str, Any]:
        """The ``uplink`` message for the auditors about this phone's latest report."""
        now = self.clock()
        self.last_report = now
        server: ReceiverView | None = None
        if tap is not None:
            sample = await sample_receiver(tap, now)
            server = receiver_view(self.last, sample) if self.last is not None else None
            self.last = sample
        else:
            self.last = None
        judged = stats.active and not paused
        weak = self.judge(below_floor(stats, server), judged)
        return {
            "type": "uplink",
            "participant_id": participant["id"],
            "name": participant["name"],
            "phone": phone_json(stats),
            "server": server.json() if server is not None else None,
            "weak": weak,
            "below": self.below,
            "floor": floor_json(),
        }
