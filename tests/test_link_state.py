"""The facility's link as the console sees it: `facility-link` goes live, reconnecting while
the phone is gone, live again with the length of the gap; the recording keeps the gap as a
gap (a new segment after it), which the replay timeline marks."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets

from server.media.client import ParticipantClient
from server.simcam import ClipReplayTrack, EncodedClip, ToneTrack, encode_clip
from tests.support import LiveServer, new_audit, new_invite
from tests.test_heartbeat import Answering


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return encode_clip(frames=60, width=640, height=360, gop=30)


async def link_state(auditor: Answering, state: str, seconds: float, stage: str) -> dict[str, Any]:
    try:
        while True:
            msg = await auditor.next_of("facility-link", seconds)
            if msg["state"] == state:
                return msg
    except TimeoutError as exc:
        raise AssertionError(f"stage: {stage}: no facility-link {state!r} within {seconds} s") from exc


async def phone(server: LiveServer, audit_id: str, token: str, clip: EncodedClip) -> ParticipantClient:
    client = ParticipantClient(
        server.ws_url(audit_id), token=token, video=ClipReplayTrack(clip), audio=ToneTrack()
    )
    await client.connect()
    return client


async def test_the_facility_link_and_the_gap_it_leaves(
    server: LiveServer, api_token: str, clip: EncodedClip
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    ws = await websockets.connect(
        server.ws_url(audit_id), additional_headers={"Authorization": f"Bearer {api_token}"}
    )
    await ws.send(json.dumps({"type": "join"}))
    auditor = Answering(ws)
    first = await link_state(auditor, "offline", 5, "on joining, before any phone")
    assert "gap_ms" not in first
    try:
        cam = await phone(server, audit_id, invite["token"], clip)
        live = await link_state(auditor, "live", 10, "first video")
        assert "gap_ms" not in live, "no gap before the first video"
        await asyncio.sleep(1.5)  # some video recorded before the drop
        await cam.close()
        gone_at = time.monotonic()
        lost = await link_state(auditor, "reconnecting", 5, "phone gone")
        assert 0 <= lost["elapsed_ms"] < 5000
        await asyncio.sleep(max(0.0, gone_at + 3 - time.monotonic()))  # the phone stays away 3 s
        cam = await phone(server, audit_id, invite["token"], clip)
        back = await link_state(auditor, "live", 10, "phone back")
        # The gap runs between the server's arrival stamps, taken once a frame is assembled: on a
        # loaded machine the last frames before the phone left are stamped a little late.
        assert back["gap_ms"] >= 2500, back
        await asyncio.sleep(1.5)
        await cam.close()
    finally:
        await auditor.close()

    async with server.client(api_token) as http:
        for _ in range(300):  # the segments are closed as the room empties (at most 30 s)
            manifest = (await http.get(f"/api/audits/{audit_id}/replay")).json()
            if len(manifest["segments"]) >= 2:
                break
            await asyncio.sleep(0.1)
    segments = sorted(manifest["segments"], key=lambda s: s["offset"])
    assert len(segments) >= 2, f"stage: recording: no new segment after the gap: {segments}"
    hole = segments[1]["offset"] - (segments[0]["offset"] + segments[0]["duration"])
    assert hole >= 2.5, f"stage: recording: the gap is {hole:.2f} s in the recording, not a gap"


class StallingTrack(ClipReplayTrack):
    """A clip whose frames stop after ``after`` and resume when ``go`` is set: with
    :class:`StallingTone`, a drop the phone's connection survives."""

    def __init__(self, clip: EncodedClip, after: int) -> None:
        super().__init__(clip)
        self.after = after
        self.stalled = asyncio.Event()
        self.go = asyncio.Event()

    async def recv(self) -> Any:
        if self.sent == self.after:
            self.stalled.set()
            await self.go.wait()
            self._start = time.monotonic() - self.sent / self.clip.fps  # no burst to catch up
        return await super().recv()


class StallingTone(ToneTrack):
    """Audio that stops while ``video`` is stalled."""

    def __init__(self, video: StallingTrack) -> None:
        super().__init__()
        self.video = video

    async def recv(self) -> Any:
        if self.video.stalled.is_set() and not self.video.go.is_set():
            paused_at = time.monotonic()
            await self.video.go.wait()
            if self._start is not None:
                self._start += time.monotonic() - paused_at  # no burst to catch up
        return await super().recv()


async def test_video_that_stops_on_a_surviving_connection_is_recorded_as_a_gap(
    server: LiveServer, api_token: str, clip: EncodedClip
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
        track = StallingTrack(clip, after=60)
        url = server.ws_url(audit_id)
        cam = ParticipantClient(url, token=invite["token"], video=track, audio=StallingTone(track))
        await cam.connect()
        try:
            await asyncio.wait_for(track.stalled.wait(), 15)
            await asyncio.sleep(3)  # the phone's video stops for 3 s, its connection stays
            track.go.set()
            await asyncio.sleep(2.5)  # video again (a key frame at least every second)
        finally:
            await cam.close()
        deadline = time.monotonic() + 15
        while len(segments := (await http.get(f"/api/audits/{audit_id}/replay")).json()["segments"]) < 2:
            assert time.monotonic() < deadline, f"stage: recording: one segment across the gap: {segments}"
            await asyncio.sleep(0.2)
    segments.sort(key=lambda s: s["offset"])
    hole = segments[1]["offset"] - (segments[0]["offset"] + segments[0]["duration"])
    assert hole >= 2.5, f"stage: recording: the 3 s stop is a {hole:.2f} s hole, not a gap"
