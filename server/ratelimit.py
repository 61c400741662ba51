"""Token buckets keyed by who is asking (an invite, say), with a bounded number of keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``burst`` requests at once, then one per ``interval`` seconds, per key.

    Holds at most ``max_keys`` buckets: when full, buckets that have refilled are dropped
    (they are the same as a new one), then the least recently used.
    """

    def __init__(
        self,
        burst: int,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.burst, self.interval, self.clock, self.max_keys = burst, interval, clock, max_keys
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        """Spend one token for ``key``: 0.0 if allowed, else the seconds until a token is due."""
        now = self.clock()
        bucket = self.buckets.pop(key, None) or Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) / self.interval)
        bucket.updated = now
        self.buckets[key] = bucket  # re-inserted: the dict stays in least recently used order
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            if len(self.buckets) > self.max_keys:
                self.prune(now)
            return 0.0
        return (1 - bucket.tokens) * self.interval

    def prune(self, now: float) -> None:
        refill = self.interval * self.burst
        full = [k for k, b in self.buckets.items() if b.tokens * self.interval + now - b.updated >= refill]
        for key in full:
            del self.buckets[key]
        while len(self.buckets) > self.max_keys:
            del self.buckets[next(iter(self.buckets))]
