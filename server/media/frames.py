"""Encoded media frames as they leave the receiver, before any decoding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One complete encoded frame (video) or packet (audio) exactly as the sender encoded it."""

    kind: str  # "video" | "audio"
    codec: str  # "VP8", "H264", "opus", ...
    data: bytes
    rtp_timestamp: int
    arrival_ns: int  # server wall clock (time.time_ns) when its last packet arrived
    keyframe: bool
    ssrc: int
    audio_level: int | None = None  # dBov, 0 loudest .. 127 silence, from the RTP extension


FrameSink = Callable[[EncodedFrame], None]


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own."""
    name = codec.upper()
    if name == "VP8":
        # RFC 6386 9.1: bit 0 of the frame tag is 0 for key frames, followed by a start code.
        return len(data) >= 10 and (data[0] & 0x01) == 0 and data[3:6] == b"\x9d\x01\x2a"
    if name == "H264":
        return any(nal_type in (5, 7) for nal_type in h264_nal_types(data))
    return True


def h264_nal_types(data: bytes) -> list[int]:
    """NAL unit types in an Annex-B byte stream."""
    types: list[int] = []
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        types.append(data[i + 3] & 0x1F)
        i = data.find(b"\x00\x00\x01", i + 3)
    return types
