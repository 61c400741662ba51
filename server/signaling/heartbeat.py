"""The server's half of the signaling heartbeat: a socket it has not heard from is dead.

A phone that walks out of Wi-Fi coverage leaves its socket open on the server: no FIN, no
RST, nothing, until TCP gives up minutes later. Meanwhile the participant would stay in
the room as a ghost. So every joined socket has a :class:`Heartbeat`: each frame the
client sends (its own `ping`s, its `pong`s to ours, any message) counts as heard; after
``ping_after_s`` of quiet the server sends `ping` (the page answers `pong`), and after
``dead_after_s`` of quiet the socket is closed with :data:`CLOSE_NO_HEARTBEAT`.

The page pings every few seconds on its own, so a live browser is rarely pinged by the
server; the server's pings keep quiet clients (scripts, the Python client) honest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

PING_AFTER_S = 4.0
DEAD_AFTER_S = 10.0
CLOSE_NO_HEARTBEAT = 4010

Push = Callable[[dict[str, Any]], Awaitable[None]]


class Heartbeat:
    """When this socket was last heard from, and the pings that ask it to speak."""

    def __init__(
        self, push: Push, ping_after_s: float = PING_AFTER_S, dead_after_s: float = DEAD_AFTER_S
    ) -> None:
        self.push = push
        self.ping_after_s = ping_after_s
        self.dead_after_s = dead_after_s
        self.last_heard = time.monotonic()
        self._last_ping = 0.0
        self._task: asyncio.Task[None] | None = None

    def heard(self) -> None:
        self.last_heard = time.monotonic()

    def quiet_s(self) -> float:
        return time.monotonic() - self.last_heard

    def remaining_s(self) -> float:
        """How long the socket may stay quiet from now before it counts as dead (>= 0)."""
        return max(0.0, self.dead_after_s - self.quiet_s())

    def start(self) -> None:
        """Start pinging (once the participant has joined)."""
        if self._task is None:
            self.heard()
            self._task = asyncio.create_task(self._ping())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _ping(self) -> None:
        step = min(1.0, self.ping_after_s / 4)
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            quiet = now - self.last_heard
            if quiet >= self.ping_after_s and now - self._last_ping >= self.ping_after_s:
                self._last_ping = now
                await self.push({"type": "ping"})
