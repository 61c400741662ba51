"""A server killed with SIGKILL mid-recording keeps every acknowledged capture and closed segment,
and recovers the segment that was open: all but its last second at most."""

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

from recorder import verify_package
from server.media.client import ParticipantClient
from server.simcam import ClipReplayTrack, EncodedClip, ToneTrack, encode_clip
from tests.support import free_port

pytestmark = pytest.mark.slow


def start_server(data: Path, port: int, segment_seconds: float = 1) -> subprocess.Popen[bytes]:
    args = [
        "--data-dir",
        str(data),
        "serve",
        "--port",
        str(port),
        "--segment-seconds",
        str(segment_seconds),
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
    # A fresh interpreter, migrations and recovery: seconds on a loaded machine.
    deadline = asyncio.get_running_loop().time() + 60
    async with httpx.AsyncClient(base_url=base) as http:
        while asyncio.get_running_loop().time() < deadline:
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("server did not answer /healthz within 60 s")


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


KILL_POINTS = (20, 75, 160)  # video frames in the open segment's index when the server is killed


def newest_segment(recording: Path, after: int) -> tuple[int, Path] | None:
    found = sorted(recording.glob("segment-*.webm")) if recording.is_dir() else []
    if not found or int(found[-1].name[8:14]) <= after:
        return None
    return int(found[-1].name[8:14]), found[-1]


def indexed_video_frames(segment: Path) -> int:
    index = segment.with_name(segment.name.split(".")[0] + ".index.jsonl")
    lines = index.read_bytes().split(b"\n") if index.exists() else []
    return sum(b'"kind":"video"' in line and line.endswith(b"}") for line in lines)


async def live_phone(base: str, audit_id: str, invite: str, clip: EncodedClip) -> ParticipantClient:
    phone = ParticipantClient(
        f"ws://{base.removeprefix('http://')}/ws/audits/{audit_id}",
        token=invite,
        video=ClipReplayTrack(clip),
        audio=ToneTrack(),
    )
    await phone.connect()
    await asyncio.wait_for(phone.media_live.wait(), 10)
    return phone


async def open_segment_listing(recording: Path, after: int, frames: int) -> tuple[int, Path]:
    """The newest segment, numbered above ``after``, once its index lists ``frames`` video frames."""
    async with asyncio.timeout(30):
        while True:  # the index is a file another process appends to: polled
            found = newest_segment(recording, after)
            if found is not None and indexed_video_frames(found[1]) >= frames:
                return found
            await asyncio.sleep(0.02)


def decoded_frames(body: bytes, scratch: Path) -> int:
    scratch.write_bytes(body)
    with av.open(str(scratch)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_sigkill_mid_segment_recovers_the_open_segment(data: Path, tmp_path: Path) -> None:
    cli(data, "user", "create", "--email", "k@example.org", "--name", "K", stdin="long password\n")
    token = cli(data, "user", "token", "--email", "k@example.org").strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    clip = await asyncio.to_thread(encode_clip, 90, 640, 360)
    proc = start_server(data, port, segment_seconds=10)
    seq = 0
    try:
        await wait_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
            audit_id = (
                await http.post("/api/audits", json={"facility": {"name": "K", "country": "IN"}})
            ).json()["id"]
            invite = (await http.post(f"/api/audits/{audit_id}/invites", json={})).json()["token"]
        recording = data / "evidence" / audit_id / "recording"
        for cycle, frames in enumerate(KILL_POINTS):
            if cycle:
                proc = start_server(data, port, segment_seconds=10)
                await wait_up(base)
            phone = await live_phone(base, audit_id, invite, clip)
            try:
                if cycle == 0:
                    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
                        r = await http.post(
                            f"/api/audits/{audit_id}/captures", json={}, headers={"Idempotency-Key": "k-1"}
                        )
                    assert r.status_code == 201, r.text
                    acked = r.json()
                seq, segment = await open_segment_listing(recording, seq, frames)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
            finally:
                await phone.close()
            listed = indexed_video_frames(segment)

            proc = start_server(data, port, segment_seconds=10)
            await wait_up(base)
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
                await check_recovered(http, audit_id, seq, listed, tmp_path / f"cycle{cycle}.webm")
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)

        proc = start_server(data, port, segment_seconds=10)
        await wait_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            # The answer to the first request was had; a client that lost it retries after the crash.
            retried = await http.post(
                f"/api/audits/{audit_id}/captures", json={}, headers={"Idempotency-Key": "k-1"}
            )
            assert retried.status_code == 201, retried.text
            assert retried.json()["id"] == acked["id"]
            captures = (await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "capture"})).json()
            assert [c["id"] for c in captures["items"]] == [acked["id"]]

            package = tmp_path / "export.zip"
            package.write_bytes((await http.get(f"/api/audits/{audit_id}/export")).content)
            report = verify_package(package)
            assert report.ok, report.problems
            assert sum("recovered after an unclean stop" in note for note in report.notes) == len(KILL_POINTS)
            segments = (await http.get(f"/api/audits/{audit_id}/recording")).json()["segments"]
            assert len([s for s in segments if s["recovered"]]) == len(KILL_POINTS)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)


async def check_recovered(
    http: httpx.AsyncClient, audit_id: str, seq: int, listed: int, scratch: Path
) -> None:
    """The open segment is listed as recovered, decodes, is in the ledger under a signed head, and replays."""
    segments = (await http.get(f"/api/audits/{audit_id}/recording")).json()["segments"]
    seg = next(s for s in segments if s["seq"] == seq)
    recovered = seg["recovered"]
    assert recovered is not None
    assert seg["video_frames"] >= listed - 30
    assert recovered["video_frames_lost"] == listed - seg["video_frames"]
    body = (await http.get(seg["url"])).content
    assert hashlib.sha256(body).hexdigest() == seg["sha256"]
    assert decoded_frames(body, scratch) == seg["video_frames"]
    lost_s = (recovered["stopped_ns"] - seg["end_ns"]) / 1e9
    assert lost_s <= 1.0

    ledger = (await http.get(f"/api/audits/{audit_id}/ledger")).json()
    entry = next(e for e in ledger["entries"] if e["type"] == "segment" and e["seq_no"] == seq)
    assert entry["sha256"] == seg["sha256"] and entry["recovered"] == recovered
    assert ledger["tree_heads"][-1]["size"] == len(ledger["entries"])

    manifest = (await http.get(f"/api/audits/{audit_id}/replay")).json()
    replayed = next(s for s in manifest["segments"] if s["seq"] == seq)
    assert replayed["recovered"] == recovered
    playable = (await http.get(replayed["url"])).content
    assert decoded_frames(playable, scratch) == seg["video_frames"]
