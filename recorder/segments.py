"""Lossless recording of the phone's encoded media into rotating, crash-safe segments.

:class:`SegmentWriter` takes encoded frames (see :class:`recorder.timeline.Frame`) and
muxes them, without decoding, into ``segment-000001.webm`` (VP8 + Opus) or ``.mkv``
(H.264 + Opus) files beside per-frame indexes (see :mod:`recorder.container`).

Threads: :meth:`~SegmentWriter.write` and :meth:`~SegmentWriter.restart` only append to
a bounded in-memory queue, so the event loop may call them. Everything else (muxing,
fsync, hashing, the ``on_closed`` and ``on_error`` callbacks) runs in the writer's own
thread. :meth:`~SegmentWriter.close` blocks until the queue is drained and the last
segment is finalized; call it from a worker thread (``asyncio.to_thread``).

Segments: a segment starts at a video key frame; video frames before it are skipped
(they cannot be decoded), and so is audio timed before it. A segment is closed at the
first key frame once it is ``max_segment_seconds`` long, when the video codec or its
parameters (VP8 picture size, H.264 SPS/PPS) change, on :meth:`~SegmentWriter.restart`
and on :meth:`~SegmentWriter.close`. Closing finalizes the container, fsyncs both files
and the directory, then reports a :class:`~recorder.container.SegmentInfo` with their
SHA-256 digests; a crash can therefore only truncate the segment that was still open.
Sequence numbers continue after the highest already in the directory.

Timestamps are the sender's RTP timestamps, anchored to arrival time per kind (see
:mod:`recorder.timeline`); ``pts`` 0 is the segment's first key frame.
"""

from __future__ import annotations

import collections
import enum
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

from recorder.bitstream import parameter_sets
from recorder.container import FORMATS, SegmentFile, SegmentInfo, VideoParams, make_private_dirs, vp8_params
from recorder.timeline import AUDIO_CLOCK, VIDEO_CLOCK, Frame, Timeline, convert

log = logging.getLogger(__name__)

SEGMENT_NAME = re.compile(r"^segment-(\d+)\.")


class _Control(enum.Enum):
    RESTART = "restart"
    SPLIT = "split"
    STOP = "stop"


class SegmentWriter:
    """Records one audit's phone media into a directory of segments and indexes."""

    def __init__(
        self,
        directory: Path,
        *,
        max_segment_seconds: float = 10.0,
        queue_frames: int = 1800,
        on_closed: Callable[[SegmentInfo], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        seq_source: Callable[[], int] | None = None,
    ) -> None:
        if max_segment_seconds <= 0 or queue_frames < 1:
            raise ValueError("max_segment_seconds must be > 0 and queue_frames >= 1")
        self.directory = directory
        self.max_segment_seconds = max_segment_seconds
        self.queue_frames = queue_frames
        self.on_closed = on_closed
        self.on_error = on_error
        self.written = 0  # frames muxed into segments
        self.dropped = 0  # frames lost to a full queue, or written after close()
        self.skipped_before_keyframe = 0  # video frames with no key frame to decode from
        self.skipped_audio = 0  # audio timed before the open segment's first key frame, or none open
        self.unsupported = 0  # empty frames, or of a kind or codec the recorder cannot store
        self.errors = 0
        self.last_error: str | None = None
        self._items: collections.deque[Frame | _Control] = collections.deque()
        self._pending = 0
        self._wake = threading.Condition()
        self._closed = False
        self._video_gap = False
        self._thread: threading.Thread | None = None
        self._timeline = Timeline()
        self._segment: SegmentFile | None = None
        self._origin = 0  # session video ticks of the open segment's first key frame
        self._h264_sets: tuple[bytes, bytes] | None = None
        self._next_seq: int | None = None
        self._seq_source = seq_source  # shared by the writers of one audit's cameras

    # -- caller side: never blocks -------------------------------------------------------
    @property
    def pending(self) -> int:
        """Frames queued and not yet written."""
        return self._pending

    def start(self) -> None:
        """Start the writer thread (creating the directory is left to that thread)."""
        if self._thread is not None:
            return
        if self._closed:
            raise RuntimeError("SegmentWriter is closed")
        self._thread = threading.Thread(target=self._run, name="segment-writer", daemon=True)
        self._thread.start()

    def write(self, frame: Frame) -> None:
        """Queue one encoded frame. On overflow the frame is dropped, counted and logged."""
        video = frame.kind == "video"
        with self._wake:
            if self._closed:
                self.dropped += 1
                return
            if self._pending >= self.queue_frames or (video and self._video_gap and not frame.keyframe):
                self._overflow(video)
                return
            if video:
                self._video_gap = False
            self._items.append(frame)
            self._pending += 1
            self._wake.notify()

    def restart(self) -> None:
        """Close the open segment; the next one starts at the next video key frame."""
        self._control(_Control.RESTART)

    def split(self) -> None:
        """Close the open segment; the next one starts at the next video key frame on the same
        timeline (the same connection: its clocks go on, unlike after :meth:`restart`)."""
        self._control(_Control.SPLIT)

    def close(self) -> None:
        """Write everything queued, finalize the open segment and stop the thread (blocking)."""
        self._control(_Control.STOP)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _control(self, item: _Control) -> None:
        with self._wake:
            if self._closed:
                return
            self._closed = item is _Control.STOP
            self._items.append(item)
            self._wake.notify()

    def _overflow(self, video: bool) -> None:
        # Called with the lock held. After a lost video frame every frame up to the next
        # key frame refers to it, so those are dropped too.
        self.dropped += 1
        if video and not self._video_gap:
            self._video_gap = True
            log.error(
                "recorder queue full (%d frames): evidence has a gap until the next key frame "
                "(%d frames dropped so far)",
                self.queue_frames,
                self.dropped,
            )

    # -- writer thread --------------------------------------------------------------------
    def _next(self) -> Frame | _Control:
        with self._wake:
            while not self._items:
                self._wake.wait()
            item = self._items.popleft()
            if not isinstance(item, _Control):
                self._pending -= 1
            return item

    def _run(self) -> None:
        while (item := self._next()) is not _Control.STOP:
            try:
                if item is _Control.RESTART:
                    self._finish()
                    self._timeline.reset()
                    self._h264_sets = None
                elif item is _Control.SPLIT:
                    self._finish()
                elif isinstance(item, _Control):
                    continue
                elif not item.data:
                    self.unsupported += 1
                elif item.kind == "video":
                    self._video(item)
                elif item.kind == "audio":
                    self._audio(item)
                else:
                    self.unsupported += 1
            except Exception as exc:
                self._fail(exc)
        try:
            self._finish()
        except Exception as exc:
            self._fail(exc)

    def _video(self, frame: Frame) -> None:
        codec = frame.codec.upper()
        if codec not in FORMATS:
            self.unsupported += 1
            return
        ticks = self._timeline.place(frame)
        if self._segment is not None and self._segment.codec != codec:
            self._finish()
        params = self._params(codec, frame) if frame.keyframe else None
        segment = self._segment
        if segment is not None and params is not None and self._should_rotate(segment, params, ticks):
            self._finish()
            segment = None
        if segment is None:
            if params is None:
                self.skipped_before_keyframe += 1
                return
            segment = self._open(params, frame)
            self._origin = ticks
        segment.write(frame, ticks - self._origin)
        self.written += 1

    def _audio(self, frame: Frame) -> None:
        if frame.codec.lower() != "opus":
            self.unsupported += 1
            return
        # Placed even when not written, so the audio clock keeps its anchor.
        ticks = self._timeline.place(frame)
        pts = ticks - convert(self._origin, VIDEO_CLOCK, AUDIO_CLOCK)
        if self._segment is None or pts < 0:
            self.skipped_audio += 1
            return
        self._segment.write(frame, pts)
        self.written += 1

    def _should_rotate(self, segment: SegmentFile, params: VideoParams, ticks: int) -> bool:
        return params != segment.params or ticks - self._origin >= self.max_segment_seconds * VIDEO_CLOCK

    def _params(self, codec: str, frame: Frame) -> VideoParams | None:
        if codec == "VP8":
            return vp8_params(frame.data)
        self._h264_sets = parameter_sets(frame.data) or self._h264_sets
        if self._h264_sets is None:
            return None
        sps, pps = self._h264_sets
        return VideoParams("H264", sps=sps, pps=pps)

    def _open(self, params: VideoParams, first: Frame) -> SegmentFile:
        if self._seq_source is not None:
            make_private_dirs(self.directory)
            self._segment = SegmentFile(self.directory, self._seq_source(), params, first)
            return self._segment
        if self._next_seq is None:
            self._next_seq = _first_free_seq(self.directory)
        seq = self._next_seq
        self._next_seq += 1
        self._segment = SegmentFile(self.directory, seq, params, first)
        return self._segment

    def _finish(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            info = segment.close()
        except BaseException:
            segment.abort()
            raise
        log.info(
            "segment %d closed: %d video, %d audio frames", info.seq, info.video_frames, info.audio_frames
        )
        if self.on_closed is not None:
            try:
                self.on_closed(info)
            except Exception:
                log.exception("on_closed callback failed for segment %d", info.seq)

    def _fail(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.error("recording failed: %s", self.last_error, exc_info=exc)
        try:
            self._finish()
        except Exception:
            log.exception("could not finalize the segment after a failure")
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("on_error callback failed")


class SeqCounter:
    """Sequence numbers shared by the segment writers of one audit's cameras (thread-safe).

    Numbers continue after the highest segment file in any of ``directories``, so every
    camera's segments have distinct numbers and names.
    """

    def __init__(self, directories: Callable[[], list[Path]]) -> None:
        self._directories = directories
        self._lock = threading.Lock()
        self._next: int | None = None

    def __call__(self) -> int:
        with self._lock:
            if self._next is None:
                taken = [
                    int(m.group(1))
                    for d in self._directories()
                    if d.is_dir()
                    for p in d.iterdir()
                    if (m := SEGMENT_NAME.match(p.name))
                ]
                self._next = max(taken, default=0) + 1
            seq = self._next
            self._next += 1
            return seq


def _first_free_seq(directory: Path) -> int:
    make_private_dirs(directory)
    taken = [int(m.group(1)) for p in directory.iterdir() if (m := SEGMENT_NAME.match(p.name))]
    return max(taken, default=0) + 1
