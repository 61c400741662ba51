"""Two facility phones in one audit: two cameras, forwarded, recorded and captured apart.

Two aiortc phones (two invites, or two devices on one invite) stream clips of different
picture sizes, so every frame, segment and capture shows which camera it came from.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import websockets

from recorder.container import vp8_params
from server.media.client import ParticipantClient
from server.media.frames import EncodedFrame
from server.simcam import ClipReplayTrack, EncodedClip, ToneTrack, encode_clip
from tests.support import COMPLETE_ANYWAY, LiveServer, live_server, new_audit, new_invite
from tests.test_guided_signaling import next_of
from tests.test_walkthrough_api import jpeg

pytestmark = pytest.mark.slow

SIZES = {1: (640, 360), 2: (320, 240)}


async def until(predicate: Callable[[], Any], stage: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{stage}: not within {seconds:.0f} s")


def phone(server: LiveServer, audit_id: str, token: str, clip: EncodedClip, device: str) -> ParticipantClient:
    return ParticipantClient(
        server.ws_url(audit_id), token=token, video=ClipReplayTrack(clip), audio=ToneTrack(), device=device
    )


def messages(client: ParticipantClient, kind: str) -> list[dict[str, Any]]:
    return [m for m in client.messages if m.get("type") == kind]


async def test_two_phones_are_two_cameras(tmp_path: Path) -> None:
    clips = {n: await asyncio.to_thread(encode_clip, 120, w, h, 30, 30) for n, (w, h) in SIZES.items()}
    seen: dict[int, list[tuple[int, int]]] = {1: [], 2: []}

    def sink(number: int) -> Callable[[EncodedFrame], None]:
        def keep(frame: EncodedFrame) -> None:
            params = vp8_params(frame.data) if frame.keyframe else None
            if params is not None:
                seen[number].append((params.width, params.height))

        return keep

    async with live_server(tmp_path / "data", segment_seconds=1.0, capture_window_ms=300) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            audit_id = await new_audit(http)
            first, second = await new_invite(http, audit_id), await new_invite(http, audit_id)
            phones = {
                1: phone(server, audit_id, first["token"], clips[1], "device-one-0001"),
                2: phone(server, audit_id, second["token"], clips[2], "device-two-0002"),
            }
            auditor = ParticipantClient(
                server.ws_url(audit_id),
                headers={"Authorization": f"Bearer {token}"},
                camera_taps={1: sink(1), 2: sink(2)},
            )
            try:
                await phones[1].connect()
                await phones[2].connect()
                await auditor.connect()
                # Both cameras reach the auditor, each on its own track, untouched (their own sizes).
                await until(lambda: seen[1] and seen[2], "both cameras' keyframes at the auditor")
                assert set(seen[1]) == {SIZES[1]} and set(seen[2]) == {SIZES[2]}

                def cameras() -> list[dict[str, Any]]:
                    listed = messages(auditor, "cameras")
                    return listed[-1]["cameras"] if listed else []

                await until(
                    lambda: [(c["id"], c["state"]) for c in cameras()] == [(1, "live"), (2, "live")],
                    "the auditor is told of two live cameras",
                )
                assert [c["label"] for c in cameras()] == ["Camera 1", "Camera 2"]

                # A third phone (a second device on the first invite) is refused with a clear reason.
                third = phone(server, audit_id, first["token"], clips[1], "device-three-003")
                with pytest.raises(ConnectionError, match="too_many_cameras"):
                    await third.connect()
                await third.close()

                # Captures come from the camera asked for, and say which.
                for number in (1, 2):
                    r = await http.post(f"/api/audits/{audit_id}/captures", json={"camera": number})
                    assert r.status_code == 201, r.text
                    item = r.json()
                    assert item["camera"] == number
                    assert (item["width"], item["height"]) == SIZES[number]
                # Over the socket: the camera on the auditor's screen (selected), pointer included.
                await auditor.send({"type": "select-camera", "camera": 2})
                await auditor.send({"type": "capture", "request_id": "on-screen-2"})
                await auditor.send({"type": "pointer", "x": 0.25, "y": 0.75})
                await until(lambda: messages(auditor, "evidence"), "the on-screen capture's evidence reply")
                item = messages(auditor, "evidence")[0]["item"]
                assert item["camera"] == 2 and (item["width"], item["height"]) == SIZES[2]
                await until(lambda: messages(phones[2], "pointer"), "the pointer at the phone on screen")
                assert messages(phones[2], "pointer")[0]["camera"] == 2
                assert not messages(phones[1], "pointer"), "the pointer reached the phone not on screen"
                await directed_to_the_camera_on_screen(auditor, phones)
                photo = await http.post(
                    f"/api/audits/{audit_id}/photos",
                    files={"file": ("p.jpg", jpeg())},
                    data={"camera": "2"},
                    headers={"Authorization": f"Invite {second['token']}"},
                )
                assert photo.status_code == 201 and photo.json()["camera"] == 2, photo.text
                bad = {"type": "select-camera", "camera": 0}
                await auditor.send(bad)
                await until(lambda: messages(auditor, "error"), "an error for a bad camera number")
                assert messages(auditor, "error")[-1]["code"] == "invalid"

                async def recorded_cameras() -> set[int]:
                    listing = (await http.get(f"/api/audits/{audit_id}/recording")).json()
                    return {s["camera"] for s in listing["segments"]}

                await until(lambda: _is(recorded_cameras(), {1, 2}), "a closed segment of each camera")
            finally:
                await auditor.close()
                for p in phones.values():
                    await p.close()

            await until(lambda: audit_id not in server.app_ctx().hub.rooms, "the room closes")
            listing = (await http.get(f"/api/audits/{audit_id}/recording")).json()
            segments = listing["segments"]
            assert {s["camera"] for s in segments} == {1, 2}
            assert len({s["seq"] for s in segments}) == len(segments), "two cameras share a segment number"
            for segment in segments:
                index = (await http.get(segment["index_url"])).content
                assert hashlib.sha256(index).hexdigest() == segment["index_sha256"]
                body = (await http.get(segment["url"])).content
                assert hashlib.sha256(body).hexdigest() == segment["sha256"]
            ledger = (await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"]
            entries = ledger
            seg_cameras = {e.get("camera") for e in entries if e.get("type") == "segment"}
            assert seg_cameras == {1, 2}
            capture_cameras = sorted(e["camera"] for e in entries if e.get("type") == "capture")
            assert capture_cameras == [1, 2, 2]
            switches = [e["data"] for e in entries if e.get("kind") == "photo-mode"]
            assert switches == [{"on": True, "camera": 2}, {"on": False, "camera": 2}]
            assert [e["data"]["camera"] for e in entries if e.get("kind") == "photo"] == [2]
            assert (
                await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
            ).status_code == 200
            package = tmp_path / "audit.zip"
            package.write_bytes((await http.get(f"/api/audits/{audit_id}/export")).content)
    from tests.test_export import verify

    ok = verify(package)
    assert ok.returncode == 0, ok.stdout + ok.stderr


async def settled(client: ParticipantClient) -> None:
    """Whatever the server pushed to ``client`` before now has arrived (its pong comes after)."""
    pongs = len(messages(client, "pong"))
    await client.send({"type": "ping"})
    await until(lambda: len(messages(client, "pong")) > pongs, "the phone's pong")


async def directed_to_the_camera_on_screen(
    auditor: ParticipantClient, phones: dict[int, ParticipantClient]
) -> None:
    """With camera 2 on the auditor's screen, a photo request and photo mode reach its phone only."""
    await auditor.send({"type": "photo-request", "checkpoint": "gate"})
    await until(lambda: messages(phones[2], "photo-request"), "the photo request at the phone on screen")
    assert messages(phones[2], "photo-request")[0]["camera"] == 2
    await auditor.send({"type": "photo-mode", "on": True})
    await until(lambda: messages(phones[2], "photo-mode"), "photo mode at the phone on screen")
    await until(lambda: messages(auditor, "photo-mode"), "photo mode told to the auditor")
    told = messages(auditor, "photo-mode")[-1]
    assert (told["camera"], told["on"], told["cameras"]) == (2, True, [2])
    await settled(phones[1])
    assert not messages(phones[1], "photo-request"), "the photo request reached the phone not on screen"
    assert not messages(phones[1], "photo-mode"), "photo mode reached the phone not on screen"
    # Camera 1 goes on streaming: its uplink reports say it is not in photo mode.
    await phones[1].send({"type": "uplink-stats", "video_kbps": 900.0, "height": 360, "fps": 30.0})
    await until(lambda: messages(auditor, "uplink"), "camera 1's uplink report")
    report = messages(auditor, "uplink")[-1]
    assert (report["camera"], report["photo_mode"]) == (1, False)
    await auditor.send({"type": "photo-mode", "on": False, "camera": 2})
    await until(lambda: len(messages(phones[2], "photo-mode")) == 2, "photo mode off at camera 2's phone")
    assert messages(phones[2], "photo-mode")[-1]["on"] is False


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_a_rejoining_phone_keeps_its_camera_number(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data") as server:
        token = await server.create_user()
        async with server.client(token) as http:
            audit_id = await new_audit(http)
            invite = await new_invite(http, audit_id)
        headers = {"Authorization": f"Bearer {token}"}
        async with websockets.connect(server.ws_url(audit_id), additional_headers=headers) as auditor:
            await auditor.send(json.dumps({"type": "join"}))

            async def join(device: str) -> dict[str, Any]:
                ws = await websockets.connect(server.ws_url(audit_id))
                await ws.send(json.dumps({"type": "join", "token": invite["token"], "device": device}))
                welcome: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                welcome["ws"] = ws
                return welcome

            a = await join("phone-a-000001")
            b = await join("phone-b-000002")
            assert (a["participant"]["camera"], b["participant"]["camera"]) == (1, 2)
            # Photo mode is a camera's: the same phone back on camera 1 is told it is still on.
            for camera in (1, 2):
                await auditor.send(json.dumps({"type": "photo-mode", "on": True, "camera": camera}))
                assert (await next_of(auditor, "photo-mode"))["cameras"][-1] == camera
            await a["ws"].close()
            await until(lambda: len(server.app_ctx().hub.rooms[audit_id].participants) == 2, "phone a left")
            again = await join("phone-a-000001")
            assert again["participant"]["camera"] == 1
            told = await next_of(again["ws"], "photo-mode")
            assert (told["camera"], told["on"]) == (1, True)
            # Another phone that takes camera 2's number films: the auditors hear photo mode is off.
            await b["ws"].close()
            await until(lambda: len(server.app_ctx().hub.rooms[audit_id].participants) == 2, "phone b left")
            c = await join("phone-c-000003")
            assert c["participant"]["camera"] == 2
            off = await next_of(auditor, "photo-mode")
            assert (off["camera"], off["on"], off["cameras"]) == (2, False, [1])
            for ws in (again["ws"], c["ws"]):
                await ws.close()


async def test_a_viewer_without_a_cameras_codec_gets_that_camera_reencoded(tmp_path: Path) -> None:
    """Camera 2 sends H.264, camera 1 VP8: a VP8-only viewer gets camera 2 re-encoded and camera 1
    untouched; a viewer that takes both codecs gets each camera's own codec, nothing re-encoded."""
    from server.simcam import SceneTrack

    clip = await asyncio.to_thread(encode_clip, 120, *SIZES[1], 30, 30)
    got: dict[str, dict[int, list[EncodedFrame]]] = {"vp8": {1: [], 2: []}, "any": {1: [], 2: []}}
    async with live_server(tmp_path / "data") as server:
        token = await server.create_user()
        async with server.client(token) as http:
            audit_id = await new_audit(http)
            first, second = await new_invite(http, audit_id), await new_invite(http, audit_id)
        room = lambda: server.app_ctx().hub.rooms[audit_id]  # noqa: E731
        vp8_phone = phone(server, audit_id, first["token"], clip, "device-vp8-0001")
        h264_phone = ParticipantClient(
            server.ws_url(audit_id), token=second["token"], video=SceneTrack(*SIZES[2]), video_codec="H264",
            device="device-h264-002",
        )
        viewers = {
            name: ParticipantClient(
                server.ws_url(audit_id),
                headers={"Authorization": f"Bearer {token}"},
                camera_taps={1: got[name][1].append, 2: got[name][2].append},
                video_codec="VP8" if name == "vp8" else None,
            )
            for name in got
        }
        clients = [vp8_phone, h264_phone, *viewers.values()]
        try:
            await vp8_phone.connect()
            await h264_phone.connect()
            codecs = ("VP8", "H264")
            await until(lambda: (room().video_codec(1), room().video_codec(2)) == codecs, "both codecs")
            for viewer in viewers.values():
                await viewer.connect()
            for name, frames in got.items():
                for number, seen in frames.items():
                    await until(lambda s=seen: len(s) >= 10, f"{name} viewer: camera {number}'s frames")
            assert {f.codec for f in got["vp8"][1]} == {"VP8"}
            assert {f.codec for f in got["vp8"][2]} == {"VP8"}, "camera 2 not re-encoded for the VP8 viewer"
            assert {f.codec for f in got["any"][1]} == {"VP8"}
            assert {f.codec for f in got["any"][2]} == {"H264"}, "camera 2 was not forwarded in its own codec"
            assert set(room().decoding.workers) == {2}, "only camera 2 is decoded"
            # Camera 1 forwarded untouched: its keyframes keep the clip's size.
            sizes = {(p.width, p.height) for f in got["vp8"][1] if (p := vp8_params(f.data)) is not None}
            assert sizes == {SIZES[1]}
        finally:
            for client in clients:
                await client.close()
