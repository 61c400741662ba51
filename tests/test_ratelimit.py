from __future__ import annotations

from server.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=3, interval=2.0, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == 2.0
    assert limiter.take("b") == 0.0  # every key has its own bucket
    clock.now += 1.0
    assert limiter.take("a") == 1.0
    clock.now += 1.0
    assert limiter.take("a") == 0.0


def test_keys_are_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(burst=2, interval=1.0, clock=clock, max_keys=10)
    for n in range(100):
        limiter.take(str(n))
    assert len(limiter.buckets) <= 10
