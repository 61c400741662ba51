"""The server's REMB: follows what gets through, backs off on loss, counts resends as such."""

from __future__ import annotations

import pytest

from server.media.remb import (
    BACKOFF,
    CAP_FACTOR,
    CAP_HEADROOM_BPS,
    GROWTH,
    HEADROOM_BPS,
    INTERVAL_S,
    MAX_BPS,
    MIN_BPS,
    ThroughputEstimator,
)


class Recorder(ThroughputEstimator):
    """Keeps what each interval measured."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(lambda: self.now)
        self.seen: list[tuple[float, float]] = []

    def update(self, rate_bps: float, loss: float) -> int:
        self.seen.append((rate_bps, loss))
        return super().update(rate_bps, loss)


def interval(est: Recorder, seqs: list[int], size: int = 1000) -> None:
    """Packets spread evenly over one interval."""
    for seq in seqs:
        est.add(seq % 65536, size)
        est.now += INTERVAL_S / len(seqs)


def test_loss_is_what_never_came_and_resends_fill_holes() -> None:
    est = Recorder()
    interval(est, list(range(0, 50)))
    interval(est, list(range(50, 150, 2)))  # every other packet missing
    interval(est, list(range(150, 200)))
    losses = [loss for _, loss in est.seen]
    assert losses[0] == 0.0
    assert losses[1] == pytest.approx(0.5, abs=0.05)


def test_reordered_packets_across_the_wrap_are_not_loss() -> None:
    est = Recorder()
    interval(est, list(range(65400, 65500)))
    interval(est, [s for n in range(65500, 65600, 2) for s in (n + 1, n)])
    interval(est, list(range(65600, 65650)))
    # (a pair split by the interval's end may count once: under the hold threshold)
    assert est.seen[1][1] < 0.02


def test_clean_intervals_allow_a_little_more_lossy_ones_less() -> None:
    est = ThroughputEstimator(lambda: 0.0)
    assert est.update(1_000_000, 0.0) == int(CAP_FACTOR * 1_000_000 + CAP_HEADROOM_BPS)  # kept, within reach
    assert est.update(1_000_000, 0.0) == int(CAP_FACTOR * 1_000_000 + CAP_HEADROOM_BPS)
    assert est.update(3_000_000, 0.0) == MAX_BPS
    assert est.update(300_000, 0.3) == int(BACKOFF * 300_000)
    held = est.estimate
    assert est.update(900_000, 0.05) == held  # some loss: hold
    assert est.update(10_000, 0.5) == MIN_BPS
    assert est.update(10_000_000, 0.0) == MAX_BPS
    # A camera that sends little: a still scene pulls a high estimate within reach.
    assert est.update(100_000, 0.0) == int(CAP_FACTOR * 100_000 + CAP_HEADROOM_BPS)
    assert est.update(400_000, 0.0) == int(GROWTH * 400_000 + HEADROOM_BPS)
