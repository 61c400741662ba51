"""One server-side peer connection per participant: apply the browser's offer, answer it.

The server never offers: browsers offer, the server answers with all of its candidates
(aiortc does not trickle) and accepts the browser's trickled candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.sdp import candidate_from_sdp

from server.media.candidates import MAX_CANDIDATES, CandidateRefused, checked
from server.media.frames import FrameSink
from server.media.hub import Room
from server.media.tap import ReceiverTap, on_keyframe_request, order_answer_codecs
from server.settings import IceServer

log = logging.getLogger(__name__)

PASSTHROUGH_CODECS = ("video/VP8", "video/H264")
# Chrome starts low against a receiver that only sends REMB; these make it start at 720p.
# The floor stays low: on a thin uplink (256 kbit/s) a higher one would push more video
# into the link than it carries, and the voice would queue behind it (docs/architecture.md).
VIDEO_BITRATE_KBPS = {"min": 50, "start": 1500, "max": 2500}


class OfferError(ValueError):
    """The browser's offer could not be applied."""


@dataclass
class PeerSession:
    """A participant's current peer connection and what hangs off it."""

    pc: RTCPeerConnection
    taps: list[ReceiverTap] = field(default_factory=list)
    video_codec: str | None = None
    candidates: int = 0

    async def add_candidate(self, candidate: dict[str, object] | None, allow_loopback: bool = False) -> None:
        """Add a trickled candidate; :class:`CandidateRefused` for one too many or a refused address."""
        if candidate is None or not candidate.get("candidate"):
            with contextlib.suppress(ValueError):
                await self.pc.addIceCandidate(None)
            return
        if self.candidates >= MAX_CANDIDATES:
            raise CandidateRefused(
                "too_many_candidates", f"at most {MAX_CANDIDATES} candidates per connection; send a new offer"
            )
        self.candidates += 1
        parsed = parse_candidate(candidate)
        await self.pc.addIceCandidate(await checked(parsed, allow_loopback))

    async def close(self) -> None:
        await self.pc.close()


def parse_candidate(candidate: dict[str, object]) -> RTCIceCandidate:
    """aiortc's candidate from the browser's ``{candidate, sdpMid, sdpMLineIndex}``; ValueError if bad."""
    text = str(candidate["candidate"])
    try:
        parsed: RTCIceCandidate = candidate_from_sdp(text.removeprefix("candidate:"))
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"not a candidate line ({type(exc).__name__})") from exc
    mid = candidate.get("sdpMid")
    index = candidate.get("sdpMLineIndex")
    parsed.sdpMid = str(mid) if mid is not None else None
    parsed.sdpMLineIndex = int(index) if isinstance(index, int) else None
    return parsed


def rtc_configuration(ice_servers: tuple[IceServer, ...]) -> RTCConfiguration:
    # With no iceServers aiortc would contact a public STUN server: pass ours, even if none.
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential) for s in ice_servers
        ]
    )


def _prefer(kind: str, first: str | None) -> list[RTCRtpCodecCapability]:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    if kind == "audio":
        return [c for c in caps if c.mimeType.lower() == "audio/opus"]
    wanted = [c for c in caps if c.mimeType in PASSTHROUGH_CODECS or c.mimeType == "video/rtx"]
    order = {f"video/{first}": 0} if first else {}
    return sorted(
        wanted,
        key=lambda c: (
            c.mimeType == "video/rtx",
            order.get(c.mimeType, 1),
            PASSTHROUGH_CODECS.index(c.mimeType) if c.mimeType in PASSTHROUGH_CODECS else 9,
        ),
    )


def negotiated_video_codecs(sdp_text: str) -> list[str | None]:
    """The codec each video section of an SDP settled on, in order (None: a section without one)."""
    desc = aiortc_sdp.SessionDescription.parse(sdp_text)
    return [str(m.rtp.codecs[0].name) if m.rtp.codecs else None for m in desc.media if m.kind == "video"]


def add_bitrate_hints(sdp_text: str) -> str:
    """Add x-google bitrate hints to the video codecs of an answer (Chrome reads them)."""
    hint = ";".join(f"x-google-{k}-bitrate={v}" for k, v in VIDEO_BITRATE_KBPS.items())
    lines = sdp_text.split("\r\n")
    out: list[str] = []
    in_video = False
    pts: set[str] = set()
    for line in lines:
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        if in_video:
            m = re.match(r"a=rtpmap:(\d+) (VP8|H264)/", line)
            if m:
                pts.add(m.group(1))
                out.append(line)
                if m.group(2) == "VP8":
                    out.append(f"a=fmtp:{m.group(1)} {hint}")
                continue
            f = re.match(r"a=fmtp:(\d+) ", line)
            if f and f.group(1) in pts:
                line = f"{line};{hint}"
        out.append(line)
    return "\r\n".join(out)


def tap_factory(receiver: RTCRtpReceiver) -> Callable[[FrameSink], ReceiverTap]:
    return lambda sink: ReceiverTap(receiver, sink)


def _keyframe_of(room: Room, camera: int) -> Callable[[], None]:
    return lambda: room.request_keyframe(camera)


async def answer(
    room: Room, participant_id: str, offer_sdp: str, ice_servers: tuple[IceServer, ...]
) -> tuple[PeerSession, str]:
    """Build the participant's peer connection from its offer; return it and the answer SDP."""
    role = room.participants[participant_id].role
    pc = RTCPeerConnection(rtc_configuration(ice_servers))
    session = PeerSession(pc)
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    except Exception as exc:  # aiortc raises ValueError, KeyError, ... on bad SDP
        await pc.close()
        raise OfferError(f"the offer could not be applied: {exc}") from exc
    video_sections = sum(1 for t in pc.getTransceivers() if t.kind == "video")
    outs = room.new_outputs(participant_id, video_sections)
    video_index = 0
    for transceiver in pc.getTransceivers():
        kind = transceiver.kind
        session.taps.append(room.attach_receiver(participant_id, tap_factory(transceiver.receiver), kind))
        first = room.video_codec() or "VP8"
        watching = kind == "video" and role == "auditor"
        if watching:  # the n-th section carries camera n: its codec first
            video_index += 1
            first = room.video_codec(video_index) or first
        with contextlib.suppress(Exception):
            transceiver.setCodecPreferences(_prefer(kind, first))
            if watching:  # a phone's own offer order stands (its encoder may prefer H.264)
                order_answer_codecs(transceiver, _prefer(kind, first))
    if outs.audio is not None:
        pc.addTrack(outs.audio)
    for camera, track in sorted(outs.cameras.items()):  # the n-th video section carries camera n
        sender = pc.addTrack(track)
        on_keyframe_request(sender, _keyframe_of(room, camera))
    try:
        await pc.setLocalDescription(await pc.createAnswer())
    except Exception as exc:
        await pc.close()
        raise OfferError(f"no answer is possible for this offer: {exc}") from exc
    sdp_text = pc.localDescription.sdp
    codecs = negotiated_video_codecs(sdp_text)
    session.video_codec = codecs[0] if codecs else None
    for camera, track in outs.cameras.items():  # what each camera's section settled on
        codec = codecs[camera - 1] if camera <= len(codecs) else None
        if codec:
            track.codec = codec

    @pc.on("connectionstatechange")
    async def _state() -> None:
        log.debug("peer %s: %s", participant_id, pc.connectionState)
        if pc.connectionState == "connected" and role == "auditor":
            room.viewer_ready(participant_id)

    if role == "staff":
        sdp_text = add_bitrate_hints(sdp_text)
    return session, sdp_text


async def close_all(sessions: list[PeerSession]) -> None:
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
