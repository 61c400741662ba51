"""One socket's outgoing messages: bounded, and able to tell a slow reader from a fast sender.

Replies to the client's own messages are put with :meth:`Outbox.put`, which waits for
room below the soft limit: a client that sends faster than it reads is slowed down (its
next message is read only once there is room), never disconnected for it. Messages from
elsewhere (another participant joined, a capture was taken) use :meth:`Outbox.put_nowait`
and never wait, up to the hard limit. Only a writer that frees no room for
``stall_s`` seconds, or a backlog at the hard limit, means the client stopped reading.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

SOFT_LIMIT = 64
HARD_LIMIT = 128
STALL_S = 10.0

Outgoing = dict[str, Any] | None  # None tells the writer to stop


class SlowReader(Exception):
    """The client has stopped reading: its messages pile up and the writer makes no progress."""


class Outbox:
    def __init__(self, soft: int = SOFT_LIMIT, hard: int = HARD_LIMIT, stall_s: float = STALL_S) -> None:
        self.soft, self.hard, self.stall_s = soft, hard, stall_s
        self._items: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, message: dict[str, Any]) -> None:
        """Queue a reply, waiting up to ``stall_s`` for the writer to make room."""
        while len(self._items) >= self.soft:
            self._room.clear()
            try:
                await asyncio.wait_for(self._room.wait(), self.stall_s)
            except TimeoutError as exc:
                raise SlowReader(f"nothing read for {self.stall_s:.0f} s") from exc
        self._append(message)

    def put_nowait(self, message: dict[str, Any]) -> None:
        """Queue a message from elsewhere without waiting; :class:`SlowReader` at the hard limit."""
        if len(self._items) >= self.hard:
            raise SlowReader(f"{self.hard} messages queued and not read")
        self._append(message)

    def finish(self) -> None:
        """Let the writer send what is queued, then stop."""
        self._append(None)

    async def get(self) -> Outgoing:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        message = self._items.popleft()
        if len(self._items) < self.soft:
            self._room.set()
        return message

    def _append(self, message: Outgoing) -> None:
        self._items.append(message)
        self._ready.set()
