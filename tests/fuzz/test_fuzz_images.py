"""Damaged picture headers: the parser gives a size or its one error, quickly; the endpoint a clear 4xx."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from server.images import ImageError, ImageInfo, probe
from tests.fuzz.mutations import mutated
from tests.hostile_inputs import heif, picture, png_bomb
from tests.support import LiveServer, live_server

SEEDS = [
    picture(64, 48, ".jpg"),
    picture(64, 48, ".png"),
    picture(64, 48, ".webp"),
    heif(640, 480),
    png_bomb(30000, 30000, zero_bytes=1 << 20)[:2000],
]


@given(st.sampled_from(SEEDS).flatmap(mutated))
def test_the_header_parser_gives_a_size_or_its_error(data: bytes) -> None:
    start = time.perf_counter()
    try:
        info = probe(data)
    except ImageError as exc:
        assert exc.reason in ("unsupported", "unknown", "damaged") and exc.message
    else:
        assert isinstance(info, ImageInfo) and info.width > 0 and info.height > 0
    assert time.perf_counter() - start < 0.05


@given(st.binary(max_size=512))
def test_any_bytes_give_a_size_or_the_error(data: bytes) -> None:
    with contextlib.suppress(ImageError):
        probe(data)


class ThreadedServer:
    """A live server on its own event loop in a thread, so that sync Hypothesis tests can call it."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.server: LiveServer | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(data_dir),))

    async def main(self, data_dir: Path) -> None:
        self.stop = asyncio.Event()
        async with live_server(data_dir, photo_burst=100_000, photo_interval=0.001) as server:
            self.server = server
            self.ready.set()
            await self.stop.wait()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)
        self.loop.close()


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    running = ThreadedServer(tmp_path_factory.mktemp("fuzz-photos") / "data")
    running.thread.start()
    assert running.ready.wait(20)
    assert running.server is not None
    token = running.call(running.server.create_user())
    base = running.server.base_url
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            audit = http.post("/api/audits", json={"facility": {"name": "F", "country": "VN"}}).json()["id"]
            invite = http.post(f"/api/audits/{audit}/invites", json={}).json()["token"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Invite {invite}"}, timeout=30) as staff:
            yield staff, f"/api/audits/{audit}/photos"
    finally:
        running.close()


@hyp_settings(max_examples=max(12, hyp_settings.default.max_examples // 5))  # each is a request
@given(st.sampled_from(SEEDS).flatmap(mutated))
def test_the_photo_endpoint_answers_damage_with_a_clear_4xx(
    phone: tuple[httpx.Client, str], data: bytes
) -> None:
    staff, url = phone
    r = staff.post(url, files={"file": ("x", data, "application/octet-stream")})
    assert r.status_code in (201, 413, 415, 422), r.text
    if r.status_code != 201:
        error = r.json()["error"]
        assert error["code"] in ("too_many_pixels", "unsupported_image", "not_an_image", "damaged_image")
