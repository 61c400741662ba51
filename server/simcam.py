"""Simulated facility camera: generated scenes, pre-encoded clips and a tone.

Used by the demo, the tests and the benchmark.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fractions
import math
import time
from dataclasses import dataclass, field
from typing import Any

import av
import cv2
import numpy as np
from aiortc.mediastreams import (
    MediaStreamError,
    MediaStreamTrack,
    VideoStreamTrack,
)

from server.media import framecode
from server.media.frames import VIDEO_CLOCK, is_keyframe

VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


def scene(width: int, height: int, number: int, label: str = "") -> np.ndarray:
    """A synthetic site view: gradient, a moving 'container', a clock and the frame number."""
    x = np.linspace(0, 1, width, dtype=np.float32)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    base = (60 + 80 * x[None, :] * (1 - y) + 40 * y).astype(np.uint8)
    img = np.dstack([base, (base * 0.9).astype(np.uint8), (base * 0.7).astype(np.uint8)])
    t = number / 30.0
    cx = int((0.5 + 0.35 * math.sin(t * 0.7)) * width)
    w, h = width // 4, height // 4
    cv2.rectangle(
        img, (cx - w // 2, height // 2 - h // 2), (cx + w // 2, height // 2 + h // 2), (40, 90, 200), -1
    )
    cv2.rectangle(
        img, (cx - w // 2, height // 2 - h // 2), (cx + w // 2, height // 2 + h // 2), (255, 255, 255), 2
    )
    scale = max(width / 1280, 0.4)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    cv2.putText(
        img,
        stamp,
        (framecode.MARGIN, height - int(30 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        1.2 * scale,
        (255, 255, 255),
        max(1, int(2 * scale)),
        cv2.LINE_AA,
    )
    if label:
        cv2.putText(
            img,
            label,
            (framecode.MARGIN, int(90 * scale) + framecode.CELL),
            cv2.FONT_HERSHEY_SIMPLEX,
            1.0 * scale,
            (230, 230, 230),
            max(1, int(2 * scale)),
            cv2.LINE_AA,
        )
    framecode.burn(img, number)
    return img


class SceneTrack(VideoStreamTrack):
    """Live generated scene (encoded by aiortc): the demo's facility camera."""

    def __init__(self, width: int = 960, height: int = 540, label: str = "Simulated facility camera") -> None:
        super().__init__()
        self.width, self.height, self.label = width, height, label
        self.number = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = await asyncio.to_thread(scene, self.width, self.height, self.number, self.label)
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        self.number += 1
        return frame


@dataclass
class EncodedClip:
    """A clip encoded once; replaying it costs no encoding."""

    codec: str
    fps: int
    width: int
    height: int
    frames: list[bytes] = field(default_factory=list)

    @property
    def keyframes(self) -> list[bool]:
        return [is_keyframe(self.codec, f) for f in self.frames]


def encode_clip(
    frames: int = 150,
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    gop: int = 30,
    bitrate: int = 2_000_000,
) -> EncodedClip:
    """Encode ``frames`` synthetic frames with frame numbers 0..frames-1 to VP8 (blocking)."""
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.bit_rate = bitrate
    ctx.gop_size = gop
    ctx.time_base = fractions.Fraction(1, fps)
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "keyint_min": str(gop)}
    clip = EncodedClip("VP8", fps, width, height)
    for n in range(frames):
        picture = av.VideoFrame.from_ndarray(scene(width, height, n), format="bgr24").reformat(
            format="yuv420p"
        )
        picture.pts = n
        if n % gop == 0:
            picture.pict_type = av.video.frame.PictureType.I
        for packet in ctx.encode(picture):
            clip.frames.append(bytes(packet))
    for packet in ctx.encode(None):
        clip.frames.append(bytes(packet))
    return clip


class ClipReplayTrack(MediaStreamTrack):
    """Replays an :class:`EncodedClip` in a loop at its frame rate, recording when each frame left."""

    kind = "video"

    def __init__(self, clip: EncodedClip, start_at_keyframe: bool = True) -> None:
        super().__init__()
        self.clip = clip
        self.index = 0
        self.sent = 0
        self.sent_ns: list[int] = []  # send time (time.time_ns) of the n-th frame sent
        self._start: float | None = None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self.sent / self.clip.fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        data = self.clip.frames[self.index]
        packet = av.Packet(data)
        packet.pts = self.sent * (VIDEO_CLOCK // self.clip.fps)
        packet.time_base = VIDEO_TIME_BASE
        self.sent_ns.append(time.time_ns())
        self.sent += 1
        self.index = (self.index + 1) % len(self.clip.frames)
        return packet


class ToneTrack(MediaStreamTrack):
    """A short beep every second, as 20 ms frames of 48 kHz audio: something to hear on the other side."""

    kind = "audio"
    RATE = 48_000
    SAMPLES = 960  # 20 ms

    def __init__(self, frequency: float = 660.0) -> None:
        super().__init__()
        self.frequency = frequency
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._samples / self.RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (self._samples + np.arange(self.SAMPLES)) / self.RATE
        envelope = ((t % 1.0) < 0.15).astype(np.float32)
        wave = (0.2 * 32767 * np.sin(2 * np.pi * self.frequency * t) * envelope).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._samples += self.SAMPLES
        return frame
