"""On-demand decoding of the phone's video in a worker thread.

The hub only forwards encoded frames; decoding happens only while someone needs pixels
(stills, or a viewer whose codec differs from the phone's). Frames are decoded in a
thread with a bounded input queue; when it is full the worker skips to the next keyframe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable

import av

from server.media.frames import EncodedFrame

log = logging.getLogger(__name__)

DecodedSink = Callable[[av.VideoFrame, EncodedFrame], None]
DECODE_QUEUE = 8


class DecodeWorker:
    """Decodes submitted encoded frames in order and reports each picture on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: DecodedSink) -> None:
        self._loop = loop
        self._sink = sink
        self._queue: queue.Queue[EncodedFrame | None] = queue.Queue(DECODE_QUEUE)
        self._need_keyframe = True
        self.dropped = 0
        self.decoded = 0
        self._thread = threading.Thread(target=self._run, name="video-decode", daemon=True)
        self._thread.start()

    def submit(self, frame: EncodedFrame) -> None:
        if self._need_keyframe and not frame.keyframe:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(frame)
            self._need_keyframe = False
        except queue.Full:
            self.dropped += 1
            self._need_keyframe = True

    def close(self) -> None:
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()

    def _run(self) -> None:
        codec_name: str | None = None
        ctx: av.VideoCodecContext | None = None
        while (frame := self._queue.get()) is not None:
            if frame.codec != codec_name:
                codec_name = frame.codec
                ctx = av.VideoCodecContext.create("libvpx" if codec_name == "VP8" else "h264", "r")
            assert ctx is not None
            try:
                pictures = ctx.decode(av.Packet(frame.data))
            except av.FFmpegError as exc:
                log.debug("decode failed: %s", exc)
                continue
            for picture in pictures:
                self.decoded += 1
                try:
                    self._loop.call_soon_threadsafe(self._sink, picture, frame)
                except RuntimeError:  # loop closed during shutdown
                    return


class ChainDecoder:
    """Decodes a run of frames that starts at a keyframe (blocking: call from a worker thread)."""

    def __init__(self) -> None:
        self._codec: str | None = None
        self._ctx: av.VideoCodecContext | None = None

    def decode(self, frame: EncodedFrame) -> list[av.VideoFrame]:
        if frame.codec != self._codec or self._ctx is None:
            self._codec = frame.codec
            self._ctx = av.VideoCodecContext.create("libvpx" if frame.codec == "VP8" else "h264", "r")
        try:
            return list(self._ctx.decode(av.Packet(frame.data)))
        except av.FFmpegError as exc:
            log.debug("decode failed: %s", exc)
            return []
