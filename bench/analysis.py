"""Turning what the phones sent and the auditors received into delivery and latency figures.

Frame identity. The i-th frame a phone sends is clip frame ``i % L``. An auditor's frame
is mapped to a clip index either by the SHA-256 of its bytes (the hub and the direct
path deliver the phone's bytes unchanged) or by the number burned into its pixels (after
decoding; the only way through a re-encoding relay). The loop count is then recovered
from order and timing: frames arrive in order, so each match must come after the
previous one, was sent before it arrived, and among the loops that fit we take the one
whose latency is closest to the previous frame's (for the first frame: the most recent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_LATENCY_NS = 30 * 10**9
# Frames arrive in order, so latency can grow by at most the time between two arrivals;
# it can fall fast only if a queue was flushed. A fall bigger than this is a misread number.
MAX_LATENCY_FALL_NS = 2 * 10**9


@dataclass(frozen=True)
class Window:
    """The measured interval (time.time_ns) and how long late frames may still arrive."""

    start_ns: int
    end_ns: int
    grace_ns: int

    def sent(self, sent_ns: Sequence[int]) -> set[int]:
        return {i for i, t in enumerate(sent_ns) if self.start_ns <= t < self.end_ns}


@dataclass
class Matches:
    """Received frames matched to the phone's sent frames."""

    latency_ns: dict[int, int] = field(default_factory=dict)  # sent index -> arrival - sent
    by_arrival: dict[int, int] = field(default_factory=dict)  # arrival_ns -> sent index
    unmatched: int = 0  # received frames that fit no sent frame (corrupt or misread)


def match(received: Iterable[tuple[int, int]], sent_ns: Sequence[int], clip_len: int) -> Matches:
    """Match (arrival_ns, clip index) pairs, in arrival order, to sent frame indices."""
    out = Matches()
    prev_i = -1
    prev_latency: int | None = None
    for arrival, clip_index in received:
        best: tuple[int, int] | None = None
        if 0 <= clip_index < clip_len:
            first = clip_index + max(0, (prev_i - clip_index) // clip_len + 1) * clip_len
            for i in range(first, len(sent_ns), clip_len):
                latency = arrival - sent_ns[i]
                if latency < 0:
                    break
                if latency > MAX_LATENCY_NS:
                    continue
                score = latency if prev_latency is None else abs(latency - prev_latency)
                if best is None or score < best[1]:
                    best = (i, score)
        if best is None:
            out.unmatched += 1
            continue
        i = best[0]
        latency = arrival - sent_ns[i]
        if prev_latency is not None and prev_latency - latency > MAX_LATENCY_FALL_NS:
            out.unmatched += 1
            continue
        out.latency_ns[i] = latency
        out.by_arrival[arrival] = i
        prev_i, prev_latency = i, latency
    return out


@dataclass
class Delivery:
    """One auditor's share of a window."""

    sent: int
    delivered: int
    latency_ms: list[float]
    unmatched: int


def delivery(matches: Matches, sent_ns: Sequence[int], window: Window) -> Delivery:
    """Frames sent in the window, those that arrived before it closed (plus grace), their latency."""
    in_window = window.sent(sent_ns)
    latencies = [
        lat / 1e6
        for i, lat in matches.latency_ns.items()
        if i in in_window and sent_ns[i] + lat < window.end_ns + window.grace_ns
    ]
    return Delivery(len(in_window), len(latencies), latencies, matches.unmatched)


def hash_index(frames: Sequence[bytes]) -> dict[bytes, int]:
    """SHA-256 of each clip frame -> its index; refuses clips with repeated frames."""
    index = {hashlib.sha256(data).digest(): n for n, data in enumerate(frames)}
    if len(index) != len(frames):
        raise ValueError("the clip has identical frames: cannot identify frames by hash")
    return index


def percentiles(values: Sequence[float], *qs: float) -> tuple[float, ...]:
    if not values:
        return tuple(float("nan") for _ in qs)
    return tuple(float(v) for v in np.percentile(np.asarray(values), qs))


def agreement(by_hash: Matches, by_number: Matches) -> tuple[int, int]:
    """(received frames identified both ways, of which both ways named the same sent frame)."""
    common = set(by_hash.by_arrival) & set(by_number.by_arrival)
    same = sum(1 for t in common if by_hash.by_arrival[t] == by_number.by_arrival[t])
    return len(common), same
