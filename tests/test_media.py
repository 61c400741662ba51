"""Media through the hub: aiortc phone -> server -> aiortc auditor, all real WebRTC."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from server.media.client import ParticipantClient
from server.media.frames import EncodedFrame
from server.media.tap import check_internals
from server.simcam import ClipReplayTrack, EncodedClip, ToneTrack, encode_clip
from tests.support import LiveServer, new_audit, new_invite


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return encode_clip(frames=90, width=640, height=360, gop=30)


@dataclass
class Session:
    server: LiveServer
    audit_id: str
    token: str
    invite: str
    clients: list[ParticipantClient] = field(default_factory=list)

    async def auditor(
        self, sink: Callable[[EncodedFrame], None], audio_sink: Callable[[EncodedFrame], None]
    ) -> ParticipantClient:
        client = ParticipantClient(
            self.server.ws_url(self.audit_id),
            headers={"Authorization": f"Bearer {self.token}"},
            receive_video=True,
            audio=ToneTrack(440),
            tap={"video": sink, "audio": audio_sink},
        )
        self.clients.append(client)
        await client.connect()
        return client

    async def phone(
        self, clip: EncodedClip, audio_sink: Callable[[EncodedFrame], None]
    ) -> tuple[ParticipantClient, ClipReplayTrack]:
        track = ClipReplayTrack(clip)
        client = ParticipantClient(
            self.server.ws_url(self.audit_id),
            token=self.invite,
            video=track,
            audio=ToneTrack(),
            tap={"audio": audio_sink},
        )
        self.clients.append(client)
        await client.connect()
        return client, track


@pytest.fixture
async def session(server: LiveServer, api_token: str) -> AsyncIterator[Session]:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    s = Session(server, audit_id, api_token, invite["token"])
    try:
        yield s
    finally:
        await asyncio.gather(*(c.close() for c in s.clients))


async def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_aiortc_internals_the_hub_relies_on_are_present() -> None:
    check_internals()


async def test_video_arrives_byte_identical_and_in_order(session: Session, clip: EncodedClip) -> None:
    received: list[EncodedFrame] = []
    auditor = await session.auditor(received.append, lambda f: None)
    _, track = await session.phone(clip, lambda f: None)
    await wait_for(lambda: len(received) >= 60)
    index = {hashlib.sha256(data).digest(): i for i, data in enumerate(clip.frames)}
    positions = [index.get(hashlib.sha256(f.data).digest()) for f in received]
    # Every frame the auditor got is, byte for byte, a frame the phone encoded: nothing re-encoded.
    assert None not in positions
    # The first forwarded frame is a keyframe, and frames follow each other without gaps or reordering.
    assert received[0].keyframe and clip.keyframes[positions[0]]  # type: ignore[index]
    steps = {(b - a) % len(clip.frames) for a, b in itertools.pairwise(positions)}  # type: ignore[operator]
    assert steps == {1}
    assert auditor.media_live.is_set()
    assert track.sent >= len(received)


async def test_audio_flows_both_ways(session: Session, clip: EncodedClip) -> None:
    at_auditor: list[EncodedFrame] = []
    at_phone: list[EncodedFrame] = []
    await session.auditor(lambda f: None, at_auditor.append)
    await session.phone(clip, at_phone.append)
    await wait_for(lambda: len(at_auditor) >= 25 and len(at_phone) >= 25)
    for frames in (at_auditor, at_phone):
        assert {f.codec for f in frames} == {"opus"}
        stamps = [f.rtp_timestamp for f in frames]
        # 20 ms Opus frames back to back: nothing lost or merged on the way.
        steps = [(b - a) % 2**32 for a, b in itertools.pairwise(stamps)]
        assert sorted(steps)[len(steps) // 2] == 960


async def test_phone_rejoin_resumes_video_without_the_auditor_reconnecting(
    session: Session, clip: EncodedClip
) -> None:
    received: list[EncodedFrame] = []
    auditor = await session.auditor(received.append, lambda f: None)
    pc_before = auditor.pc
    phone, _ = await session.phone(clip, lambda f: None)
    await wait_for(lambda: len(received) >= 30)
    await phone.close()
    await wait_for(lambda: not auditor.media_live.is_set(), seconds=6)
    count_at_drop = len(received)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await session.phone(clip, lambda f: None)
    await wait_for(lambda: len(received) >= count_at_drop + 30, seconds=10)
    assert loop.time() - started < 5
    assert auditor.pc is pc_before and auditor.pc is not None
    assert auditor.pc.connectionState == "connected"
    assert received[count_at_drop].keyframe  # resumes cleanly on a keyframe
    index = {hashlib.sha256(data).digest() for data in clip.frames}
    assert all(hashlib.sha256(f.data).digest() in index for f in received)


async def test_second_auditor_sees_the_same_frames(session: Session, clip: EncodedClip) -> None:
    first: list[EncodedFrame] = []
    second: list[EncodedFrame] = []
    await session.auditor(first.append, lambda f: None)
    await session.phone(clip, lambda f: None)
    await wait_for(lambda: len(first) >= 10)
    await session.auditor(second.append, lambda f: None)
    await wait_for(lambda: len(second) >= 30)
    assert second[0].keyframe

    def first_saw_them() -> bool:
        seen = {f.data for f in first}
        return all(f.data in seen for f in second[:20])

    await wait_for(first_saw_them)


async def test_viewer_with_another_codec_gets_a_reencoded_stream(session: Session) -> None:
    """An auditor that can only take VP8 still sees an H.264 phone: the fallback re-encodes for it."""
    from server.simcam import SceneTrack

    received: list[EncodedFrame] = []
    auditor = ParticipantClient(
        session.server.ws_url(session.audit_id),
        headers={"Authorization": f"Bearer {session.token}"},
        receive_video=True,
        tap={"video": received.append},
        video_codec="VP8",
    )
    phone = ParticipantClient(
        session.server.ws_url(session.audit_id),
        token=session.invite,
        video=SceneTrack(320, 240),
        video_codec="H264",
    )
    session.clients += [auditor, phone]
    await phone.connect()
    await wait_for(lambda: session.server.app_ctx().hub.rooms[session.audit_id].video_codec() == "H264")
    await auditor.connect()
    await wait_for(lambda: len(received) >= 10, seconds=15)
    assert {f.codec for f in received} == {"VP8"}
    assert received[0].keyframe
