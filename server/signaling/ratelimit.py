"""Rate limits for the signaling socket: token buckets per participant, and a ledger throttle.

Two different questions:

* :class:`MessageLimits`: how many messages one socket may send. A token bucket (burst
  20, 10/s) answers excess messages with ``rate_limited``; ICE candidates have their own
  bucket, because a browser trickles a burst of them in its first second, and so do
  frames that are not messages at all (bad JSON, unknown types), so that a client's
  garbage does not use up the allowance of its real messages.
* :class:`LedgerThrottle`: how many permanent ledger entries one invite or account may
  cause by reconnecting. The ledger is append-only: a reconnect loop must not fill it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]

MESSAGE_RATE, MESSAGE_BURST = 10.0, 20.0
# A browser gathers host, server-reflexive and relay candidates for every interface (IPv4
# and IPv6) and trickles them within a second of its offer: give them room of their own.
CANDIDATE_RATE, CANDIDATE_BURST = 20.0, 60.0
# A participant's join/leave pairs, consents and refusals in the ledger: a few at once
# (a phone that loses the network a few times in a row), then one every 30 s.
LEDGER_RATE, LEDGER_BURST = 1 / 30, 5.0
LEDGER_KEYS_MAX = 10_000


@dataclass
class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` per second."""

    rate: float
    burst: float
    clock: Clock = time.monotonic
    tokens: float = -1.0
    stamp: float = 0.0

    def __post_init__(self) -> None:
        self.tokens, self.stamp = self.burst, self.clock()

    def take(self) -> float:
        """Spend a token: 0.0 if there was one, else the seconds until there is."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self) -> bool:
        return self.tokens + (self.clock() - self.stamp) * self.rate >= self.burst


@dataclass
class MessageLimits:
    """The buckets of one signaling socket."""

    clock: Clock = time.monotonic
    messages: TokenBucket = field(init=False)
    candidates: TokenBucket = field(init=False)
    malformed: TokenBucket = field(init=False)

    def __post_init__(self) -> None:
        self.messages = TokenBucket(MESSAGE_RATE, MESSAGE_BURST, self.clock)
        self.candidates = TokenBucket(CANDIDATE_RATE, CANDIDATE_BURST, self.clock)
        self.malformed = TokenBucket(MESSAGE_RATE, MESSAGE_BURST, self.clock)

    def wait(self, kind: str) -> float:
        """0.0 if a frame of this kind (``message``, ``candidate``, ``malformed``) may be handled now,
        else the seconds until it may."""
        bucket = {"candidate": self.candidates, "malformed": self.malformed}.get(kind, self.messages)
        return bucket.take()


@dataclass
class LedgerThrottle:
    """Per (audit, actor, kind of entry): may one more entry be written now?

    What it holds back is counted; the next entry written for that key carries the count,
    so the ledger says how much it was not told rather than silently missing it.
    """

    rate: float = LEDGER_RATE
    burst: float = LEDGER_BURST
    clock: Clock = time.monotonic
    _buckets: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict)
    _held: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def admit(self, audit_id: str, actor: str, kind: str) -> int | None:
        """None when this entry is held back; else how many were held back before it."""
        key = (audit_id, actor, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_idle()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self.clock)
        if bucket.take() > 0:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        return self._held.pop(key, 0)

    def _forget_idle(self) -> None:
        # Bounded memory: a full bucket with nothing held back carries no information.
        if len(self._buckets) < LEDGER_KEYS_MAX:
            return
        for key in [k for k, b in self._buckets.items() if b.full() and k not in self._held]:
            del self._buckets[key]
