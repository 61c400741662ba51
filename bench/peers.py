"""Simulated phone + auditor pairs for the session benchmark, one kind per mode.

Every auditor receives through :class:`server.media.tap.ReceiverTap`, so it gets each
encoded frame when its last packet arrives and pays no decoding unless a
:class:`FrameDecoder` is attached (all relay auditors; one auditor in the other modes).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import av
import httpx
import numpy as np
import procs
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from server.media import framecode
from server.media.client import ParticipantClient
from server.media.frames import EncodedFrame
from server.media.tap import ReceiverTap
from server.simcam import ClipReplayTrack, EncodedClip

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
FIRST_FRAME_TIMEOUT_S = 30.0
IDLE_SETTLE_S = 1.0
IDLE_MEASURE_S = 3.0
DECODE_QUEUE = 900  # 30 s at 30 fps: a decoder that falls this far behind skips to a keyframe
CODE_ROWS = framecode.MARGIN + framecode.CELL + 4  # the burned number lives in these top rows


@dataclass(frozen=True, slots=True)
class Reading:
    """A decoded picture: the number burned into it and when its encoded frame arrived."""

    number: int
    arrival_ns: int
    decoded_ns: int


def burned_number(picture: av.VideoFrame) -> int:
    """Read the frame number from the luma plane's top rows (no full-frame conversion)."""
    plane = picture.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return framecode.read(rows[:CODE_ROWS, : plane.width])


class FrameDecoder:
    """Decodes one auditor's frames in order in a worker thread and reads their numbers."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.cpu_s = 0.0  # thread CPU spent decoding and reading
        self.skipped = 0
        self.errors = 0
        self._queue: queue.Queue[EncodedFrame | None] = queue.Queue(DECODE_QUEUE)
        self._need_keyframe = True
        self._thread = threading.Thread(target=self._run, name="bench-decode", daemon=True)
        self._thread.start()

    def submit(self, frame: EncodedFrame) -> None:
        if self._need_keyframe and not frame.keyframe:
            self.skipped += 1
            return
        try:
            self._queue.put_nowait(frame)
            self._need_keyframe = False
        except queue.Full:
            self.skipped += 1
            self._need_keyframe = True

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=5)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        ctx = av.CodecContext.create("libvpx", "r")
        while (frame := self._queue.get()) is not None:
            start = time.thread_time()
            try:
                pictures = ctx.decode(av.Packet(frame.data))
            except av.FFmpegError:
                self.errors += 1
                pictures = []
            for picture in pictures:
                self.readings.append(Reading(burned_number(picture), frame.arrival_ns, time.time_ns()))
            self.cpu_s += time.thread_time() - start


@dataclass
class AuditorSink:
    """What one auditor's tap delivered: arrival time and SHA-256 of every video frame."""

    decoder: FrameDecoder | None = None
    frames: list[tuple[int, bytes]] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, frame: EncodedFrame) -> None:
        self.first.set()
        self.frames.append((frame.arrival_ns, hashlib.sha256(frame.data).digest()))
        if self.decoder is not None:
            self.decoder.submit(frame)


@dataclass
class Session:
    """One phone sending the clip and one auditor receiving it."""

    index: int
    phone: ClipReplayTrack
    auditor: AuditorSink
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        self.phone.stop()
        await asyncio.gather(*(close() for close in self.closers), return_exceptions=True)
        if self.auditor.decoder is not None:
            await asyncio.to_thread(self.auditor.decoder.close)


def _vp8_only(transceiver: RTCRtpTransceiver) -> None:
    capabilities = RTCRtpReceiver.getCapabilities("video")
    assert capabilities is not None
    wanted = ("video/VP8", "video/rtx")
    transceiver.setCodecPreferences([c for c in capabilities.codecs if c.mimeType in wanted])


async def _connected(pc: RTCPeerConnection) -> None:
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed"):
                raise ConnectionError(f"peer connection {pc.connectionState}")
            await asyncio.sleep(0.02)


def _new_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN server


def _phone_pc(track: ClipReplayTrack) -> RTCPeerConnection:
    pc = _new_pc()
    _vp8_only(pc.addTransceiver(track, direction="sendonly"))
    return pc


def _auditor_pc(sink: AuditorSink) -> RTCPeerConnection:
    pc = _new_pc()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    _vp8_only(transceiver)
    ReceiverTap(transceiver.receiver, sink)
    return pc


# -- hub: the product, over its signaling WebSocket --------------------------------------


async def _created(http: httpx.AsyncClient, path: str, body: Mapping[str, object]) -> dict[str, object]:
    r = await http.post(path, json=body)
    if r.status_code != 201:
        raise ConnectionError(f"POST {path}: {r.status_code} {r.text[:300]}")
    data: dict[str, object] = r.json()
    return data


async def hub_session(
    index: int, clip: EncodedClip, base_url: str, http: httpx.AsyncClient, decode: bool
) -> Session:
    audit = {"facility": {"name": f"Bench site {index}", "country": "VN"}}
    audit_id = str((await _created(http, "/api/audits", audit))["id"])
    invite = str(
        (await _created(http, f"/api/audits/{audit_id}/invites", {"label": f"Phone {index}"}))["token"]
    )
    ws_url = base_url.replace("http://", "ws://") + f"/ws/audits/{audit_id}"
    session = Session(index, ClipReplayTrack(clip), AuditorSink(FrameDecoder() if decode else None))
    auditor = ParticipantClient(
        ws_url,
        headers={"Authorization": str(http.headers["Authorization"])},
        receive_video=True,
        tap={"video": session.auditor},
        video_codec="VP8",
    )
    phone = ParticipantClient(ws_url, token=invite, video=session.phone, video_codec="VP8")
    session.closers += [phone.close, auditor.close]
    try:
        await auditor.connect(CONNECT_TIMEOUT_S)
        await phone.connect(CONNECT_TIMEOUT_S)
    except BaseException:
        await session.close()
        raise
    return session


# -- relay: the decode + re-encode baseline (bench/relay_server.py) ----------------------


async def _relay_offer(http: httpx.AsyncClient, pc: RTCPeerConnection, role: str, session: str) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    body = {"role": role, "session": session, "sdp": pc.localDescription.sdp}
    r = await http.post("/offer", json=body, timeout=CONNECT_TIMEOUT_S)
    r.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(r.json()["sdp"], "answer"))
    await _connected(pc)


async def relay_session(index: int, clip: EncodedClip, http: httpx.AsyncClient) -> Session:
    session = Session(index, ClipReplayTrack(clip), AuditorSink(FrameDecoder()))
    phone, auditor = _phone_pc(session.phone), _auditor_pc(session.auditor)
    session.closers += [phone.close, auditor.close]
    try:
        await _relay_offer(http, phone, "phone", f"s{index}")
        await _relay_offer(http, auditor, "viewer", f"s{index}")
    except BaseException:
        await session.close()
        raise
    return session


# -- direct: phone and auditor connected to each other in this process ------------------


async def direct_session(index: int, clip: EncodedClip, decode: bool) -> Session:
    session = Session(index, ClipReplayTrack(clip), AuditorSink(FrameDecoder() if decode else None))
    phone, auditor = _phone_pc(session.phone), _auditor_pc(session.auditor)
    session.closers += [phone.close, auditor.close]
    try:
        await auditor.setLocalDescription(await auditor.createOffer())
        await phone.setRemoteDescription(auditor.localDescription)
        await phone.setLocalDescription(await phone.createAnswer())
        await auditor.setRemoteDescription(phone.localDescription)
        await asyncio.gather(_connected(phone), _connected(auditor))
    except BaseException:
        await session.close()
        raise
    return session


# -- what every mode shares --------------------------------------------------------------


async def connect(
    mode: str, index: int, clip: EncodedClip, server: procs.ServerProcess | None, http: httpx.AsyncClient
) -> Session:
    if mode == "hub":
        assert server is not None
        return await hub_session(index, clip, server.base_url, http, decode=index == 0)
    if mode == "relay":
        return await relay_session(index, clip, http)
    return await direct_session(index, clip, decode=index == 0)


async def idle_server_core(server: procs.ServerProcess) -> float:
    """The server's CPU with nobody connected: timers, the event loop, housekeeping."""
    await asyncio.sleep(IDLE_SETTLE_S)
    before, start = server.cpu_seconds(), time.monotonic()
    await asyncio.sleep(IDLE_MEASURE_S)
    return (server.cpu_seconds() - before) / (time.monotonic() - start)


async def first_frames(sessions: Sequence[Session]) -> None:
    async with asyncio.timeout(FIRST_FRAME_TIMEOUT_S):
        await asyncio.gather(*(s.auditor.first.wait() for s in sessions))
