"""The facility's link, as the server sees it: is the phone's video reaching us, and if not,
for how long has it been missing?

The console shows this apart from the auditor's own connection: an auditor on a good
line must be able to tell "my connection is fine, the facility's phone lost its network"
from "I am offline". The state comes from the phone's socket presence and the arrival of
its video, checked a few times a second for each room:

- ``live``: a phone is in the room and its video arrives (or the person paused it: the
  link is fine, the picture is paused on purpose);
- ``reconnecting``: the phone was live, and for less than :data:`OFFLINE_AFTER_S` its
  video has not arrived or its socket is gone;
- ``offline``: no phone has been live yet, or the gap has lasted longer.

Everyone in the room gets a `facility-link` message whenever the state changes (and an
auditor, on joining): ``state``, ``elapsed_ms`` (how long the state has lasted when sent), and, on the
first ``live`` after a gap, ``gap_ms``: from the last frame before it to the first frame
after it. The console and the phone both say how long the connection was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from server.media.hub import Room

CHECK_S = 0.25
FRESH_S = 1.5  # no frame for this long: the video has stopped arriving
OFFLINE_AFTER_S = 30.0


class FacilityLink:
    """Tracks one room's facility link and tells the room when it changes."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.state = "offline"
        self.since = time.monotonic()
        self.last_frame_ns = 0  # arrival of the newest frame seen from a phone (time.time_ns)
        self.ever_live = False
        self.told: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
            self.room.closers.append(self.stop)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def message(self, gap_ms: int | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "facility-link",
            "state": self.state,
            "elapsed_ms": round((time.monotonic() - self.since) * 1000),
        }
        if gap_ms is not None:
            msg["gap_ms"] = gap_ms
        return msg

    def observe(self, now_ns: int) -> tuple[str, int | None]:
        """The state now, and the gap that just ended (ms) when video is back after one."""
        room = self.room
        staff = [p for p in room.participants.values() if p.role == "staff"]
        source = room.source
        newest = source.last_ns if source is not None and source.frames else 0
        arriving = bool(staff) and newest > 0 and now_ns - newest < FRESH_S * 1e9
        paused = any(p.paused for p in staff)
        if arriving or (paused and self.state == "live"):
            gap_ms = None
            if self.ever_live and self.state != "live" and newest > self.last_frame_ns > 0:
                # The first frame after the gap against the last one before it.
                gap_ms = max(0, round((self._first_frame_ns(newest) - self.last_frame_ns) / 1e6))
            if newest > 0:
                self.last_frame_ns = newest
            return "live", gap_ms
        if not self.ever_live:
            return "offline", None
        gone_s = (now_ns - self.last_frame_ns) / 1e9 if self.last_frame_ns else OFFLINE_AFTER_S
        return ("reconnecting" if gone_s < OFFLINE_AFTER_S else "offline"), None

    def _first_frame_ns(self, newest: int) -> int:
        # Frames arrive ~30 a second and we look 4 times a second: the newest frame is at
        # most one check late; the first after the gap is no earlier than one check before.
        return max(self.last_frame_ns, newest - int(CHECK_S * 1e9))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_S)
            now_ns = time.time_ns()
            state, gap_ms = self.observe(now_ns)
            if state != self.state:
                # Without video, the time counts from the last frame, not from when we noticed.
                gone_s = 0.0
                if state != "live" and self.last_frame_ns:
                    gone_s = max(0.0, (now_ns - self.last_frame_ns) / 1e9)
                self.since = time.monotonic() - gone_s
                self.state = state
                self.ever_live = self.ever_live or state == "live"
                self.told = set(self.room.participants)
                await self.room.broadcast(self.message(gap_ms))
                continue
            # A new auditor learns the state at once; a phone needs only the changes.
            newcomers = [p for pid, p in self.room.participants.items() if pid not in self.told]
            self.told = set(self.room.participants)
            for p in newcomers:
                if p.role == "auditor":
                    await p.send(self.message())


def with_link_state(attach: Callable[[Room], None] | None) -> Callable[[Room], None]:
    """A hub's ``on_new_room``: ``attach`` (the recorder's, if any), and a facility link."""

    def on_new_room(room: Room) -> None:
        if attach is not None:
            attach(room)
        FacilityLink(room).start()

    return on_new_room
