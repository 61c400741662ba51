"""Outgoing tracks that hand already-encoded frames to aiortc senders (no re-encoding).

An aiortc sender whose track returns :class:`av.Packet` only packetizes it. Each viewer
gets its own :class:`ForwardTrack` with a small bounded queue: when a viewer cannot keep
up, the queue is cleared and the track waits for the next keyframe (asking for one),
so a slow viewer costs a short freeze, never memory or latency.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections.abc import Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from server.media.frames import AUDIO_CLOCK, VIDEO_CLOCK, EncodedFrame

log = logging.getLogger(__name__)

VIDEO_QUEUE = 30  # ~1 s at 30 fps
AUDIO_QUEUE = 50  # ~1 s of 20 ms packets
MAX_GAP_S = 5  # a bigger jump in the source's RTP clock is treated as a new source


class ForwardTrack(MediaStreamTrack):
    """A track fed with encoded frames from the hub, consumed by one aiortc sender."""

    def __init__(self, kind: str, codec: str, request_keyframe: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.codec = codec
        self.clock = VIDEO_CLOCK if kind == "video" else AUDIO_CLOCK
        self.time_base = fractions.Fraction(1, self.clock)
        self._queue: asyncio.Queue[EncodedFrame | av.VideoFrame | None] = asyncio.Queue(
            VIDEO_QUEUE if kind == "video" else AUDIO_QUEUE
        )
        self._request_keyframe = request_keyframe
        self._need_keyframe = kind == "video"
        self._src_ssrc: int | None = None
        self._src_ts = 0
        self._out_ts = 0
        self.forwarded = 0
        self.dropped = 0

    def push(self, frame: EncodedFrame) -> None:
        """Offer a frame (called on the event loop by the hub); never blocks, never grows."""
        if self.readyState != "live":
            return
        if self._need_keyframe:
            if not frame.keyframe:
                self.dropped += 1
                return
            self._need_keyframe = False
        if self._queue.full():
            self._overflow()
            if self.kind == "video" and not frame.keyframe:
                self.dropped += 1
                return
        self._queue.put_nowait(frame)

    def push_decoded(self, frame: av.VideoFrame) -> None:
        """Fallback path: a decoded frame that aiortc will encode for this viewer."""
        if self.readyState != "live":
            return
        if self._queue.full():
            self.dropped += 1
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    def _overflow(self) -> None:
        dropped = self._queue.qsize()
        while not self._queue.empty():
            self._queue.get_nowait()
        self.dropped += dropped
        if self.kind == "video":
            self._need_keyframe = True
            if self._request_keyframe is not None:
                self._request_keyframe()
        log.info("viewer queue full: dropped %d %s frames", dropped, self.kind)

    def source_changed(self) -> None:
        """The upstream publisher changed (rejoin): wait for its first keyframe."""
        if self.kind == "video":
            self._need_keyframe = True

    def _next_pts(self, frame: EncodedFrame) -> int:
        default_step = self.clock // 30 if self.kind == "video" else self.clock // 50
        if self._src_ssrc != frame.ssrc:
            step = default_step if self._src_ssrc is not None else 0
        else:
            step = (frame.rtp_timestamp - self._src_ts) % (1 << 32)
            if step > MAX_GAP_S * self.clock:
                step = default_step
        self._src_ssrc = frame.ssrc
        self._src_ts = frame.rtp_timestamp
        self._out_ts += step
        return self._out_ts

    async def recv(self) -> av.Packet[Any] | av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        if isinstance(item, av.VideoFrame):
            return item
        packet = av.Packet(item.data)
        packet.pts = self._next_pts(item)
        packet.time_base = self.time_base
        self.forwarded += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            try:
                self._queue.put_nowait(None)
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self._queue.put_nowait(None)
        super().stop()
