"""Test support: a real server on a free port, and a client that speaks its API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from server.cli import uvicorn_config
from server.db import repo
from server.settings import Settings

PASSWORD = "correct horse battery"
log = logging.getLogger("tests.support")
STALL_S = 1.0  # an event-loop stall this long is logged (shown with a failing test's output)
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    settings: Settings
    server: uvicorn.Server

    @property
    def host(self) -> str:
        """The address clients use: the one the server listens on (127.0.0.1 for a wildcard)."""
        return self.settings.host if self.settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.settings.port}"

    def ws_url(self, audit_id: str) -> str:
        return f"ws://{self.host}:{self.settings.port}/ws/audits/{audit_id}"

    @property
    def ctx(self) -> Any:
        return (
            self.server.config.loaded_app.app.state.ctx if hasattr(self.server.config, "loaded_app") else None
        )

    async def create_user(self, email: str = "auditor@example.org", name: str = "Ada Auditor") -> str:
        """Create an auditor and return a bearer API token for it."""
        app_ctx = self.app_ctx()
        async with app_ctx.db.session() as s:
            user = await repo.create_user(s, email, name, PASSWORD)
            issued = await repo.issue_credential(s, user, "api", None)
        return issued.token

    def app(self) -> Any:
        return self.server.config.app

    def app_ctx(self) -> Any:
        app = self.server.config.app
        return app.state.ctx

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10)


@contextlib.asynccontextmanager
async def live_server(data_dir: Path, **overrides: Any) -> AsyncIterator[LiveServer]:
    settings = Settings(port=free_port(), data_dir=data_dir, log_level="warning", **overrides)
    server = uvicorn.Server(uvicorn_config(settings))
    task = asyncio.create_task(server.serve())
    try:
        # Start-up runs migrations and recovery; on a loaded machine that can take seconds.
        deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the test server stopped before it started")
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the test server did not start within {STARTUP_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.02)
        stalls = asyncio.create_task(_watch_stalls())
        try:
            yield LiveServer(settings, server)
        finally:
            stalls.cancel()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _watch_stalls() -> None:
    """Log each time the loop the server and the test share did not run for STALL_S or more.

    With VA_STALL_LOG set to a file, a thread also appends where the loop was stuck (the
    stack of the thread running it) to that file, for every stall of STALL_S or more.
    """
    loop = asyncio.get_running_loop()
    beat = [loop.time()]
    watcher = _StallStacks(beat, threading.get_ident()) if os.environ.get("VA_STALL_LOG") else None
    try:
        while True:
            before = loop.time()
            await asyncio.sleep(0.1)
            beat[0] = loop.time()
            late = beat[0] - before - 0.1
            if late >= STALL_S:
                log.warning("the event loop did not run for %.2f s (server and test share it)", late)
    finally:
        if watcher is not None:
            watcher.stop.set()


class _StallStacks(threading.Thread):
    def __init__(self, beat: list[float], loop_thread: int) -> None:
        super().__init__(daemon=True)
        self.beat, self.loop_thread, self.stop = beat, loop_thread, threading.Event()
        self.start()

    def run(self) -> None:
        reported = 0.0
        while not self.stop.wait(0.25):
            stale = time.monotonic() - self.beat[0]
            if stale < STALL_S or reported == self.beat[0]:
                continue
            reported = self.beat[0]
            frame = sys._current_frames().get(self.loop_thread)
            stack = "".join(traceback.format_stack(frame)) if frame else "?"
            test = os.environ.get("PYTEST_CURRENT_TEST", "?")
            with open(os.environ["VA_STALL_LOG"], "a") as out:
                out.write(f"--- {time.time():.1f} stuck {stale:.2f} s in {test}\n{stack}\n")


async def new_audit(http: httpx.AsyncClient, name: str = "Factory A") -> str:
    r = await http.post("/api/audits", json={"facility": {"name": name, "country": "VN"}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def new_invite(http: httpx.AsyncClient, audit_id: str, **body: Any) -> dict[str, Any]:
    r = await http.post(f"/api/audits/{audit_id}/invites", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


@contextlib.asynccontextmanager
async def streaming_phone(
    server: LiveServer, http: httpx.AsyncClient, clip: Any, facility: str, template: str = "container-7-point"
) -> AsyncIterator[tuple[str, Any]]:
    """A new audit with an aiortc phone replaying ``clip`` into it; yields (audit id, phone) once live."""
    from server.media.client import ParticipantClient
    from server.simcam import ClipReplayTrack, ToneTrack

    r = await http.post(
        "/api/audits", json={"facility": {"name": facility, "country": "VN"}, "template": template}
    )
    audit_id = str(r.json()["id"])
    invite = await new_invite(http, audit_id)
    phone = ParticipantClient(
        server.ws_url(audit_id), token=invite["token"], video=ClipReplayTrack(clip), audio=ToneTrack()
    )
    await phone.connect()
    try:
        await asyncio.wait_for(phone.media_live.wait(), 10)
        yield audit_id, phone
    finally:
        await phone.close()


# Completes any audit: open checkpoints confirmed, and a reason in case no video ever arrived
# or a phone still holds photos (a reason the audit does not need is ignored).
COMPLETE_ANYWAY: dict[str, Any] = {
    "confirm_open": True,
    "reasons": {"never_live": "Tested without a camera.", "photos_queued": "Test photos, not needed."},
}
