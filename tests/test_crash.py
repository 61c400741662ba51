"""A server killed with SIGKILL mid-recording keeps every acknowledged capture and closed segment."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from server.media.client import ParticipantClient
from server.simcam import ClipReplayTrack, ToneTrack, encode_clip
from tests.support import free_port

pytestmark = pytest.mark.slow


def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    args = [
        "--data-dir",
        str(data),
        "serve",
        "--port",
        str(port),
        "--segment-seconds",
        "1",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "server", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def cli(data: Path, *args: str, stdin: str = "") -> str:
    out = subprocess.run(
        [sys.executable, "-m", "server", "--data-dir", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout


async def wait_up(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(200):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("server did not start")


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


async def test_sigkill_keeps_acknowledged_captures_and_closed_segments(data: Path) -> None:
    cli(data, "user", "create", "--email", "k@example.org", "--name", "K", stdin="long password\n")
    token = cli(data, "user", "token", "--email", "k@example.org").strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    proc = start_server(data, port)
    clip = await asyncio.to_thread(encode_clip, 90, 640, 360)
    acked: list[dict[str, str]] = []
    phone: ParticipantClient | None = None
    try:
        await wait_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
            audit_id = (
                await http.post("/api/audits", json={"facility": {"name": "K", "country": "IN"}})
            ).json()["id"]
            invite = (await http.post(f"/api/audits/{audit_id}/invites", json={})).json()
            phone = ParticipantClient(
                f"ws://127.0.0.1:{port}/ws/audits/{audit_id}",
                token=invite["token"],
                video=ClipReplayTrack(clip),
                audio=ToneTrack(),
            )
            await phone.connect()
            await asyncio.wait_for(phone.media_live.wait(), 10)
            for _ in range(4):
                r = await http.post(f"/api/audits/{audit_id}/captures", json={"checkpoint": "9.6"})
                assert r.status_code == 201, r.text
                acked.append(r.json())
            await asyncio.sleep(2.5)  # let a few 1 s segments close
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown of any kind
        proc.wait(10)
    finally:
        if phone is not None:
            await phone.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    proc = start_server(data, port)
    try:
        await wait_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
            listed = (await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "capture"})).json()[
                "items"
            ]
            assert [i["id"] for i in listed] == [a["id"] for a in acked]
            for item in acked:
                body = (await http.get(item["image_url"])).content
                assert hashlib.sha256(body).hexdigest() == item["sha256"]
            segments = (await http.get(f"/api/audits/{audit_id}/recording")).json()["segments"]
            assert segments, "no closed segment survived"
            for seg in segments:
                body = (await http.get(seg["url"])).content
                assert hashlib.sha256(body).hexdigest() == seg["sha256"]
                path = data / "segment.webm"
                path.write_bytes(body)
                with av.open(str(path)) as container:
                    decoded = sum(1 for _ in container.decode(video=0))
                assert decoded == seg["video_frames"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
