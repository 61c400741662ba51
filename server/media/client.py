"""A participant written in Python: joins an audit over signaling and runs an aiortc peer.

Used by the demo's simulated facility camera, the integration tests and the benchmark,
so it speaks exactly the protocol browsers speak (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Callable
from typing import Any

import websockets
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from server.media.frames import FrameSink
from server.media.peer import rtc_configuration
from server.media.tap import ReceiverTap
from server.settings import IceServer

log = logging.getLogger(__name__)


class ParticipantClient:
    """One participant: ``role`` is "staff" (publishes video+audio) or "auditor" (receives video)."""

    def __init__(
        self,
        ws_url: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        video: MediaStreamTrack | None = None,
        audio: MediaStreamTrack | None = None,
        receive_video: bool = False,
        tap: dict[str, FrameSink] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        video_codec: str | None = None,
        location: dict[str, float] | None = None,
        device: str | None = None,
        camera_taps: dict[int, FrameSink] | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.token = token
        self.headers = headers or {}
        self.video = video
        self.audio = audio
        self.receive_video = receive_video
        self.tap = tap or {}
        self.ssl_context = ssl_context
        self.video_codec = video_codec
        self.location = location
        self.device = device
        # An auditor that watches several cameras: camera number -> sink of its encoded frames.
        self.camera_taps = camera_taps or {}
        self.pc: RTCPeerConnection | None = None
        self.messages: list[dict[str, Any]] = []
        self.remote_tracks: dict[str, MediaStreamTrack] = {}
        self.taps: list[ReceiverTap] = []
        self.connected = asyncio.Event()
        self.media_live = asyncio.Event()
        self.closed = asyncio.Event()  # the server ended the signaling socket
        self.close_code: int | None = None
        self._answer: asyncio.Future[str] | None = None
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        # Answer the server's heartbeat; a test sets this False to play a dead link.
        self.answer_pings = True

    async def connect(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Join and negotiate media; returns when the peer connection is connected."""
        self._ws = await websockets.connect(
            self.ws_url, additional_headers=self.headers, ssl=self.ssl_context, max_size=2**20
        )
        join: dict[str, Any] = {"type": "join", "client": "virtual-audit python client"}
        if self.token:
            join["token"] = self.token
        if self.device:
            join["device"] = self.device
        await self._ws.send(json.dumps(join))
        welcome = json.loads(await asyncio.wait_for(self._ws.recv(), timeout))
        if welcome.get("type") != "welcome":
            raise ConnectionError(f"join refused: {welcome}")
        self.messages.append(welcome)
        if welcome.get("consent", {}).get("required"):
            # A scripted participant stands for a person who accepted the recording notice.
            await self._ws.send(json.dumps({"type": "consent", "accepted": True, "location": self.location}))
        self._reader = asyncio.create_task(self._read())
        ice = tuple(
            IceServer(s["urls"], s.get("username"), s.get("credential")) for s in welcome["ice_servers"]
        )
        await self._negotiate(ice, timeout)

    async def _negotiate(self, ice: tuple[IceServer, ...], timeout: float) -> None:  # noqa: ASYNC109
        pc = self.pc = RTCPeerConnection(rtc_configuration(ice))

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected":
                self.connected.set()

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self.remote_tracks[track.kind] = track

        if self.video is not None:
            pc.addTransceiver(self.video, direction="sendonly")
        elif self.camera_taps:
            for _ in range(max(self.camera_taps)):  # the n-th video section carries camera n
                pc.addTransceiver("video", direction="recvonly")
        elif self.receive_video:
            pc.addTransceiver("video", direction="recvonly")
        if self.audio is not None:
            pc.addTransceiver(self.audio, direction="sendrecv")
        else:
            pc.addTransceiver("audio", direction="recvonly")
        if self.video_codec:
            for t in pc.getTransceivers():
                if t.kind == "video":
                    caps = RTCRtpSender.getCapabilities("video").codecs
                    t.setCodecPreferences(
                        [c for c in caps if c.mimeType in (f"video/{self.video_codec}", "video/rtx")]
                    )
        for t in pc.getTransceivers():
            sink = self.tap.get(t.kind)
            if sink is not None:
                self.taps.append(ReceiverTap(t.receiver, sink))
        videos = [t for t in pc.getTransceivers() if t.kind == "video"]
        for number, camera_sink in self.camera_taps.items():
            self.taps.append(ReceiverTap(videos[number - 1].receiver, camera_sink))
        await pc.setLocalDescription(await pc.createOffer())
        self._answer = asyncio.get_running_loop().create_future()
        await self._ws.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
        sdp = await asyncio.wait_for(self._answer, timeout)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def _read(self) -> None:
        try:
            await self._read_messages()
        finally:
            self.close_code = self._ws.close_code
            self.closed.set()

    async def _read_messages(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                msg = json.loads(raw)
                if msg.get("type") == "ping" and self.answer_pings:  # the server's heartbeat
                    await self._ws.send(json.dumps({"type": "pong"}))
                    continue
                self.messages.append(msg)
                if msg.get("type") == "answer" and self._answer is not None and not self._answer.done():
                    self._answer.set_result(msg["sdp"])
                elif msg.get("type") == "media":
                    if msg.get("state") == "live":
                        self.media_live.set()
                    else:
                        self.media_live.clear()
                if self.on_message is not None:
                    self.on_message(msg)

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
