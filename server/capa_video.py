"""A facility's short video answer to a corrective action: probed before it is kept.

The phone sends whatever its camera recorded (MP4/QuickTime from iOS and most Android
cameras, WebM from a browser's MediaRecorder). Before the file becomes evidence, PyAV (the
FFmpeg libraries aiortc already uses) opens it from memory: it must be MP4, QuickTime or
WebM, hold a video stream in H.264, H.265, VP8, VP9 or AV1 whose first frame decodes, and
last at most :data:`MAX_SECONDS`. The duration is the container's when it states one, else
the last video packet's end (MediaRecorder's WebM states none). Probing runs in a thread.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import av

from server.errors import ApiError

MAX_SECONDS = 30
MAX_BYTES = 50 * 1024 * 1024
CODECS = ("h264", "hevc", "vp8", "vp9", "av1")
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": ".mp4", "matroska,webm": ".webm"}
SLACK_SECONDS = 0.5  # a 30 s recording may state 30.4 s


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    duration_ms: int
    width: int
    height: int
    suffix: str


def too_large() -> ApiError:
    return ApiError(413, "too_large", f"videos are limited to {MAX_BYTES // (1024 * 1024)} MB")


def _probe(data: bytes) -> VideoInfo:
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError) as exc:
        raise ApiError(422, "not_a_video", "the file is not a video this server can read") from exc
    with container:
        suffix = CONTAINERS.get(container.format.name)
        if suffix is None:
            raise ApiError(422, "unsupported_video", "send the video as MP4, QuickTime or WebM")
        if not container.streams.video:
            raise ApiError(422, "not_a_video", "the file holds no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in CODECS:
            raise ApiError(
                422, "unsupported_video", f"video codec {codec!r} is not one of {', '.join(CODECS)}"
            )
        stated = container.duration / av.time_base if container.duration else None
        end = 0.0
        first = None
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if first is None and packet.size:
                    frames = packet.decode()
                    first = frames[0] if frames else None
                if stated is not None and first is not None:
                    break  # the container says how long it is; one decoded frame proves it plays
        except av.FFmpegError as exc:
            raise ApiError(422, "not_a_video", f"the video cannot be decoded: {exc}") from exc
        if first is None:
            raise ApiError(422, "not_a_video", "the video has no frame that decodes")
        seconds = stated if stated is not None else end
        if seconds > MAX_SECONDS + SLACK_SECONDS:
            raise ApiError(422, "video_too_long", f"the video lasts {seconds:.1f} s: at most {MAX_SECONDS} s")
        return VideoInfo(codec, round(seconds * 1000), first.width, first.height, suffix)


async def probe(data: bytes) -> VideoInfo:
    """What the video is, or a 413/422 ApiError that says what is wrong with it."""
    if len(data) > MAX_BYTES:
        raise too_large()
    return await asyncio.to_thread(_probe, data)
