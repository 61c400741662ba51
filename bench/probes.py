"""Clocks the session benchmark reads: CPU, dropped datagrams, and its own event loop's lag."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

import procs
from peers import Session


@dataclass(frozen=True)
class Marks:
    """Clocks read at one instant: wall, server CPU, this process's CPU, decoder threads' CPU."""

    wall_ns: int
    server_s: float | None
    own_s: float
    decode_s: float
    server_drops: int
    own_drops: int
    machine_s: float

    @classmethod
    def take(cls, server: procs.ServerProcess | None, sessions: Sequence[Session]) -> Marks:
        decode = sum(s.auditor.decoder.cpu_s for s in sessions if s.auditor.decoder is not None)
        server_s = server.cpu_seconds() if server is not None else None
        server_drops = procs.udp_drops(server.proc.pid) if server is not None else 0
        own = procs.own_cpu_seconds(), procs.udp_drops(os.getpid())
        machine = procs.machine_busy_seconds()
        return cls(time.time_ns(), server_s, own[0], decode, server_drops, own[1], machine)


class LagProbe:
    """How late this process's event loop wakes up: a busy generator distorts every figure."""

    PERIOD_S = 0.005

    def __init__(self) -> None:
        self.lateness_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + self.PERIOD_S
            await asyncio.sleep(self.PERIOD_S)
            self.lateness_ms.append((time.perf_counter() - due) * 1e3)


class StopSwitch:
    """Ctrl+C and SIGTERM: stop the benchmark, servers included, without hanging.

    Outside the event loop the signal raises KeyboardInterrupt at once. Inside it, the
    measurement task is cancelled instead, so aiortc's own callbacks are never interrupted
    half-way; whoever ran the loop checks :attr:`requested` when it returns.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        """(Re)install the handlers for code outside the event loop (closing a loop resets them)."""
        for sig in self.SIGNALS:
            signal.signal(sig, self._outside_loop)

    def guard(self, task: asyncio.Task[object]) -> None:
        loop = asyncio.get_running_loop()
        for sig in self.SIGNALS:
            loop.add_signal_handler(sig, self._inside_loop, task)

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def _outside_loop(self, signum: int, frame: object) -> None:
        self.requested = True
        raise KeyboardInterrupt

    def _inside_loop(self, task: asyncio.Task[object]) -> None:
        self.requested = True
        task.cancel()
