"""The recorder wired into the server: segments, stills and captures from a live aiortc phone."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from server.media import framecode
from server.media.client import ParticipantClient
from server.simcam import ClipReplayTrack, EncodedClip, ToneTrack, encode_clip
from tests.support import LiveServer, live_server, new_audit, new_invite


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return encode_clip(frames=150, width=640, height=360, gop=30)


async def wait_for(predicate: Callable[[], Any], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await predicate() if asyncio.iscoroutinefunction(predicate) else predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


class Phone:
    def __init__(self, server: LiveServer, audit_id: str, invite: str, clip: EncodedClip) -> None:
        self.track = ClipReplayTrack(clip)
        self.client = ParticipantClient(
            server.ws_url(audit_id), token=invite, video=self.track, audio=ToneTrack()
        )


@pytest.fixture
async def live(tmp_path: Path, clip: EncodedClip) -> AsyncIterator[tuple[LiveServer, str, str, Phone]]:
    async with live_server(tmp_path / "data", segment_seconds=1.0, capture_window_ms=300) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            audit_id = await new_audit(http)
            invite = await new_invite(http, audit_id)
        phone = Phone(server, audit_id, invite["token"], clip)
        await phone.client.connect()
        try:
            yield server, token, audit_id, phone
        finally:
            await phone.client.close()


def decode_jpeg(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


async def test_periodic_stills_show_the_right_frames_at_the_right_time(
    live: tuple[LiveServer, str, str, Phone], clip: EncodedClip
) -> None:
    server, token, audit_id, phone = live
    async with server.client(token) as http:

        async def three_stills() -> bool:
            r = await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "still"})
            return len(r.json()["items"]) >= 3

        await wait_for(three_stills, 15)
        items = (await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "still"})).json()["items"]
        arrivals = [i["arrival_ns"] for i in items]
        assert arrivals == sorted(arrivals) and [i["seq"] for i in items] == sorted(i["seq"] for i in items)
        for item in items:
            image = (await http.get(item["image_url"])).content
            assert hashlib.sha256(image).hexdigest() == item["sha256"]
            assert (item["width"], item["height"]) == (640, 360)
            number = framecode.read(decode_jpeg(image))
            # The phone sent frame `number` (mod clip length) at a known time: the still's
            # server time must be close to one of its sendings (the frame's arrival, not the
            # time the still was encoded or stored). The bound allows for a starved CPU on a
            # shared 2-core machine, where arrival alone has been seen to lag 160 ms; a wrong
            # clock or unit is off by seconds.
            sends = [t for k, t in enumerate(phone.track.sent_ns) if k % len(clip.frames) == number]
            assert sends, f"still shows frame {number} which was never sent"
            assert min(abs(item["arrival_ns"] - t) for t in sends) < 400_000_000


async def test_capture_is_acknowledged_durable_and_matches_its_hash(
    live: tuple[LiveServer, str, str, Phone],
) -> None:
    server, token, audit_id, _ = live
    async with server.client(token) as http:
        await wait_for(lambda: server.app_ctx().hub.rooms[audit_id].is_live(), 10)
        r = await http.post(f"/api/audits/{audit_id}/captures", json={"checkpoint": "5.4"})
        assert r.status_code == 201, r.text
        item = r.json()
        assert item["kind"] == "capture" and item["checkpoint"] == "5.4"
        assert item["requested_by"].startswith("user:")
        # Durable when acknowledged: the file is already on disk with the stated hash.
        path = server.settings.evidence_dir / audit_id / "stills"
        files = {hashlib.sha256(p.read_bytes()).hexdigest() for p in path.iterdir()}
        assert item["sha256"] in files
        image = await http.get(item["image_url"])
        assert image.headers["content-type"] == "image/jpeg"
        assert image.headers["etag"] == f'"{item["sha256"]}"'
        again = await http.get(item["image_url"], headers={"If-None-Match": image.headers["etag"]})
        assert again.status_code == 304
        meta = (await http.get(f"/api/evidence/{item['id']}")).json()
        assert meta == item
        captures = (await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "capture"})).json()
        assert [c["id"] for c in captures["items"]] == [item["id"]]


async def test_a_retried_capture_gets_the_first_item(live: tuple[LiveServer, str, str, Phone]) -> None:
    server, token, audit_id, _ = live
    async with server.client(token) as http:
        await wait_for(lambda: server.app_ctx().hub.rooms[audit_id].is_live(), 10)
        url, key = f"/api/audits/{audit_id}/captures", {"Idempotency-Key": "c0ffee"}
        # The retry arrives while the first is still being taken, and once more afterwards.
        first, second = await asyncio.gather(
            http.post(url, json={}, headers=key), http.post(url, json={}, headers=key)
        )
        third = await http.post(url, json={}, headers=key)
        assert {r.status_code for r in (first, second, third)} == {201}
        assert first.json() == second.json() == third.json()
        other = await http.post(url, json={}, headers={"Idempotency-Key": "other"})
        assert other.json()["id"] != first.json()["id"]
        captures = (await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "capture"})).json()
        assert [c["id"] for c in captures["items"]] == [first.json()["id"], other.json()["id"]]
        bad = await http.post(url, json={}, headers={"Idempotency-Key": "x" * 201})
        assert bad.status_code == 400


async def test_capture_without_a_live_camera_is_a_clear_error(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        r = await http.post(f"/api/audits/{audit_id}/captures", json={})
        assert r.status_code == 409
        assert r.json()["error"]["message"] == "the facility camera is not live"


async def test_evidence_listing_pages_and_filters(live: tuple[LiveServer, str, str, Phone]) -> None:
    server, token, audit_id, _ = live
    async with server.client(token) as http:

        async def four() -> bool:
            r = await http.get(f"/api/audits/{audit_id}/evidence")
            return len(r.json()["items"]) >= 4

        await wait_for(four, 15)
        first = (await http.get(f"/api/audits/{audit_id}/evidence", params={"limit": 2})).json()
        assert len(first["items"]) == 2 and first["next"] is not None
        second = (
            await http.get(f"/api/audits/{audit_id}/evidence", params={"limit": 2, "cursor": first["next"]})
        ).json()
        assert second["items"][0]["seq"] > first["items"][-1]["seq"]
        for bad in ({"kind": "movie"}, {"limit": "-1"}, {"since": "yesterday"}):
            assert (await http.get(f"/api/audits/{audit_id}/evidence", params=bad)).status_code == 400


async def test_segments_are_lossless_and_match_their_index(
    live: tuple[LiveServer, str, str, Phone], clip: EncodedClip
) -> None:
    server, token, audit_id, phone = live
    async with server.client(token) as http:

        async def two_segments() -> bool:
            r = await http.get(f"/api/audits/{audit_id}/recording")
            return len(r.json()["segments"]) >= 2

        await wait_for(two_segments, 15)
        listing = (await http.get(f"/api/audits/{audit_id}/recording")).json()
        known = {hashlib.sha256(f).hexdigest() for f in clip.frames}
        for seg in listing["segments"][:2]:
            body = (await http.get(seg["url"])).content
            index = (await http.get(seg["index_url"])).content
            assert hashlib.sha256(body).hexdigest() == seg["sha256"]
            assert hashlib.sha256(index).hexdigest() == seg["index_sha256"]
            lines = [json.loads(line) for line in index.decode().splitlines()]
            video_hashes = [e["sha256"] for e in lines if e["kind"] == "video"]
            # Every recorded video frame is byte-identical to one the phone encoded...
            assert set(video_hashes) <= known
            # ...and the container holds exactly those bytes, which decode to consecutive frames.
            path = server.settings.evidence_dir / audit_id / "recording" / Path(seg["url"]).name
            numbers = []
            with av.open(str(next(path.parent.glob(f"segment-{seg['seq']:06d}.*")))) as container:
                stream = container.streams.video[0]
                packets = [p for p in container.demux(stream) if p.size]
                assert [hashlib.sha256(bytes(p)).hexdigest() for p in packets] == video_hashes
            with av.open(str(next(path.parent.glob(f"segment-{seg['seq']:06d}.*")))) as container:
                for frame in container.decode(video=0):
                    numbers.append(framecode.read(frame.to_ndarray(format="bgr24")))
            assert len(numbers) == seg["video_frames"] == len(video_hashes)
            steps = {(b - a) % len(clip.frames) for a, b in itertools.pairwise(numbers)}
            assert steps == {1}
    assert phone.track.sent > 0


async def test_unwritable_store_fails_the_capture_clearly_and_the_session_survives(
    live: tuple[LiveServer, str, str, Phone],
) -> None:
    server, token, audit_id, phone = live
    stills = server.settings.evidence_dir / audit_id / "stills"
    async with server.client(token) as http:
        await wait_for(lambda: server.app_ctx().hub.rooms[audit_id].is_live(), 10)
        first = await http.post(f"/api/audits/{audit_id}/captures", json={})
        assert first.status_code == 201
        aside = stills.with_name("stills-aside")
        stills.rename(aside)
        stills.write_text("a file where the directory should be")
        try:
            r = await http.post(f"/api/audits/{audit_id}/captures", json={})
            assert r.status_code == 409
            message = r.json()["error"]["message"]
            assert message.startswith("capture failed: evidence store")
            assert "stills" in message
        finally:
            stills.unlink()
            aside.rename(stills)
        assert server.app_ctx().hub.rooms[audit_id].is_live()
        assert phone.client.pc is not None and phone.client.pc.connectionState == "connected"
        again = await http.post(f"/api/audits/{audit_id}/captures", json={})
        assert again.status_code == 201
        # What was acknowledged before the failure is still there, intact.
        body = (await http.get(first.json()["image_url"])).content
        assert hashlib.sha256(body).hexdigest() == first.json()["sha256"]
