"""Wires the recorder into live rooms: lossless segments, periodic stills and captures.

Everything here that runs on the event loop only enqueues; decoding, JPEG encoding,
hashing and file writes run in worker threads. Stills are taken from keyframes (the room
asks the phone for one every still interval), so a still costs one decode instead of
decoding every frame. A capture decodes the frames since the last keyframe and those of
its window as they arrive, in its own thread, and keeps the sharpest; it is acknowledged
only after its JPEG is fsynced and its row committed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from recorder import FileStore, SegmentInfo, SegmentWriter, Still, StoreError, encode_still, sharpness
from recorder.recovery import segment_files
from recorder.segments import SeqCounter
from recorder.store import StoredBlob
from server.db import evidence_repo
from server.db.engine import Database
from server.db.models import Evidence
from server.errors import ApiError
from server.media.decoder import ChainDecoder
from server.media.frames import EncodedFrame
from server.media.hub import Room
from server.recovery import camera_dir, camera_dirs, recover_segments
from server.settings import Settings

log = logging.getLogger(__name__)

GOP_LIMIT = 900  # frames kept since the last keyframe (30 s at 30 fps), for captures
MAX_CAPTURES = 4  # in progress at once per audit
MAX_STILL_JOBS = 2  # queued periodic stills per audit; beyond this they are dropped and counted
# Video that stops this long and comes back on the same connection (a short network drop
# the connection survived) ends the segment: the recording shows the hole as a gap between
# segments, not as a picture frozen inside one.
VIDEO_GAP_S = 2.0


class CaptureError(Exception):
    """A capture could not be made; the message is for the auditor."""


@dataclass(frozen=True)
class Picture:
    still: Still
    frame: EncodedFrame
    blob: str


def _bgr(picture: Any) -> np.ndarray:
    return picture.to_ndarray(format="bgr24")  # type: ignore[no-any-return]


class CaptureJob:
    """Decodes a capture's frames in its own thread as they arrive and keeps the sharpest."""

    def __init__(
        self,
        chain: list[EncodedFrame],
        window_start_ns: int,
        work: Callable[[np.ndarray, EncodedFrame], Picture],
    ) -> None:
        self.window_start_ns = window_start_ns
        self.result: concurrent.futures.Future[Picture] = concurrent.futures.Future()
        self._queue: queue.Queue[EncodedFrame | None] = queue.Queue(GOP_LIMIT + 300)
        self._work = work
        self.overflow = False
        for frame in chain:
            self._queue.put_nowait(frame)
        threading.Thread(target=self._run, name="capture", daemon=True).start()

    def feed(self, frame: EncodedFrame) -> None:
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.overflow = True

    def finish(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def _run(self) -> None:
        try:
            self.result.set_result(self._pick())
        except Exception as exc:  # reported to the auditor through the future
            self.result.set_exception(exc)

    def _pick(self) -> Picture:
        decoder = ChainDecoder()
        best: tuple[float, np.ndarray, EncodedFrame] | None = None
        fallback: tuple[Any, EncodedFrame] | None = None
        while (frame := self._queue.get()) is not None:
            for picture in decoder.decode(frame):
                if frame.arrival_ns < self.window_start_ns:
                    fallback = (picture, frame)
                    continue
                image = _bgr(picture)
                score = sharpness(image)
                if best is None or score > best[0]:
                    best = (score, image, frame)
        if best is not None:
            return self._work(best[1], best[2])
        if fallback is not None:
            return self._work(_bgr(fallback[0]), fallback[1])
        raise CaptureError("no decodable video frame arrived from the facility camera")


async def stored_evidence(db: Database, audit_id: str, key: str | None) -> Evidence | None:
    """The audit's item already stored under ``key``, if any (a retried request)."""
    if key is None:
        return None
    async with db.session() as s:
        return await evidence_repo.by_idempotency_key(s, audit_id, key)


async def keep_upload(store: FileStore, blob: str, data: bytes, what: str) -> StoredBlob:
    """Store an uploaded file (off the event loop); a store that refuses it is a 507."""
    try:
        return await asyncio.to_thread(store.put, blob, data)
    except StoreError as exc:
        raise ApiError(507, "store_failed", f"{what} not stored: {exc}") from exc


class CameraRecording:
    """What the recorder keeps for one camera: its segment stream, frames since its last keyframe."""

    def __init__(self, number: int, writer: SegmentWriter) -> None:
        self.number = number
        self.writer = writer
        self.gop: list[EncodedFrame] = []
        self.captures: list[tuple[CaptureJob, int]] = []
        self.last_still_ns = 0
        self.last_video_ns = 0  # arrival of the newest video frame (time.time_ns)
        self.first_rtp: tuple[int, int] | None = None  # (ssrc, rtp timestamp) of the phone's first frame

    def media_time(self, frame: EncodedFrame) -> float:
        if self.first_rtp is None or self.first_rtp[0] != frame.ssrc:
            self.first_rtp = (frame.ssrc, frame.rtp_timestamp)
        return ((frame.rtp_timestamp - self.first_rtp[1]) % (1 << 32)) / 90_000


class RoomRecorder:
    """The recorder of one live audit in this process: one segment stream per camera."""

    def __init__(
        self,
        room: Room,
        db: Database,
        store: FileStore,
        settings: Settings,
        pool: concurrent.futures.Executor,
    ) -> None:
        self.room = room
        self.audit_id = room.audit_id
        self.db = db
        self.store = store
        self.settings = settings
        self.pool = pool
        self.loop = asyncio.get_running_loop()
        self.directory = store.root / self.audit_id / "recording"
        # Listed before any writer starts, so none of them is a segment a writer is writing.
        leftovers = [(n, segment_files(d)) for n, d in camera_dirs(self.directory)]
        self.seqs = SeqCounter(lambda: [d for _, d in camera_dirs(self.directory)])
        self.cameras: dict[int, CameraRecording] = {}
        self.keyed: dict[str, asyncio.Future[Evidence]] = {}  # captures in progress by idempotency key
        self.still_jobs = 0
        self.stats = {"stills": 0, "stills_dropped": 0, "still_errors": 0, "captures": 0, "capture_errors": 0}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._unsubscribe = [room.subscribe_cameras(self.on_frame)]
        room.on_source_change(self._source_changed)
        room.closers.append(self.close)
        room.keyframe_interval = min(room.keyframe_interval, settings.still_interval)
        self.camera(1)  # camera 1's writer exists from the start, as before there were several
        for camera, files in leftovers:
            if files:
                self._spawn(
                    recover_segments(db, store, self.audit_id, files, settings.quarantine_dir, camera)
                )

    @property
    def writer(self) -> SegmentWriter:
        """Camera 1's segment writer."""
        return self.camera(1).writer

    def camera(self, number: int) -> CameraRecording:
        """The recording of camera ``number``, its writer started on first use."""
        found = self.cameras.get(number)
        if found is None:
            writer = SegmentWriter(
                camera_dir(self.directory, number),
                max_segment_seconds=self.settings.segment_seconds,
                on_closed=lambda info: self._segment_closed(info, number),
                on_error=self._writer_error,
                seq_source=self.seqs,
            )
            found = self.cameras[number] = CameraRecording(number, writer)
            writer.start()
        return found

    # -- on the event loop: cheap -------------------------------------------------------
    def on_frame(self, number: int, frame: EncodedFrame) -> None:
        cam = self.camera(number)
        if frame.kind == "video":
            last, cam.last_video_ns = cam.last_video_ns, frame.arrival_ns
            if last and frame.arrival_ns - last > VIDEO_GAP_S * 1e9:
                # The picture stopped and came back on the same connection: a gap in the
                # recording, not frozen frames. A new segment from the next key frame, asked for now.
                cam.writer.split()
                cam.gop = []
                self.room.request_keyframe(number)
        cam.writer.write(frame)
        if frame.kind != "video":
            return
        if frame.keyframe:
            cam.gop = [frame]
        elif cam.gop and len(cam.gop) < GOP_LIMIT:
            cam.gop.append(frame)
        else:
            cam.gop = []  # too long since a keyframe to decode from: wait for the next one
        for job, end_ns in cam.captures:
            if frame.arrival_ns <= end_ns:
                job.feed(frame)
        interval_ns = int(self.settings.still_interval * 1e9)
        if frame.keyframe and frame.arrival_ns - cam.last_still_ns >= interval_ns * 0.6:
            cam.last_still_ns = frame.arrival_ns
            self._periodic_still(cam, frame)

    def _source_changed(self, number: int) -> None:
        cam = self.cameras.get(number)
        if cam is not None:
            cam.writer.restart()
            cam.gop = []
            cam.first_rtp = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- periodic stills ----------------------------------------------------------------
    def _periodic_still(self, cam: CameraRecording, frame: EncodedFrame) -> None:
        if self.still_jobs >= MAX_STILL_JOBS:
            self.stats["stills_dropped"] += 1
            log.warning("audit %s: recorder behind, still dropped", self.audit_id)
            return
        self.still_jobs += 1
        self._spawn(self._make_still(frame, cam.media_time(frame), cam.number))

    async def _make_still(self, frame: EncodedFrame, media_time: float, camera: int) -> None:
        try:
            picture = await self.loop.run_in_executor(self.pool, self._decode_keyframe, frame)
            await self._persist(picture, "still", media_time, None, None, camera=camera)
            self.stats["stills"] += 1
        except (StoreError, CaptureError, OSError) as exc:
            self.stats["still_errors"] += 1
            log.error("audit %s: still failed: %s", self.audit_id, exc)
        finally:
            self.still_jobs -= 1

    def _decode_keyframe(self, frame: EncodedFrame) -> Picture:
        pictures = ChainDecoder().decode(frame)
        if not pictures:
            raise CaptureError("keyframe did not decode")
        return self._store_still(_bgr(pictures[-1]), frame)

    def _store_still(self, image: np.ndarray, frame: EncodedFrame) -> Picture:
        """Encode and durably store a still (worker thread)."""
        still = encode_still(image, self.settings.still_quality)
        blob = f"{self.audit_id}/stills/{uuid.uuid4()}.jpg"
        self.store.put(blob, still.jpeg)
        return Picture(still, frame, blob)

    # -- captures ------------------------------------------------------------------------
    async def capture(
        self, checkpoint: str | None, requested_by: str, key: str | None = None, camera: int | None = None
    ) -> tuple[Evidence, bool]:
        """Take the sharpest frame of ``camera``'s next window (default: the room's primary
        camera); returns it once it is durable, and whether it is new. ``key`` (see
        :func:`evidence_repo.idempotency_key`) makes a retry get the item of the first
        request, even while that one is still being taken."""
        if key is None:
            return await self._capture(checkpoint, requested_by, None, camera), True
        running = self.keyed.get(key)
        if running is not None:
            return await asyncio.shield(running), False
        if (done := await stored_evidence(self.db, self.audit_id, key)) is not None:
            return done, False
        task = self.keyed[key] = asyncio.ensure_future(self._capture(checkpoint, requested_by, key, camera))
        try:
            return await asyncio.shield(task), True
        finally:
            if task.done():
                self.keyed.pop(key, None)
            else:
                task.add_done_callback(lambda _: self.keyed.pop(key, None))

    async def _capture(
        self, checkpoint: str | None, requested_by: str, key: str | None, camera: int | None
    ) -> Evidence:
        number = camera if camera is not None else self.room.primary_camera()
        if number is None or not self.room.is_live(number):
            several = len(self.room.cameras) > 1 or (camera or 1) > 1
            raise CaptureError(
                f"camera {number} is not live" if several and number else "the facility camera is not live"
            )
        if sum(len(c.captures) for c in self.cameras.values()) >= MAX_CAPTURES:
            raise CaptureError("too many captures in progress; try again in a moment")
        cam = self.camera(number)
        now = time.time_ns()
        window = self.settings.capture_window_ms * 1_000_000
        job = CaptureJob(list(cam.gop), now, self._store_still)
        entry = (job, now + window)
        cam.captures.append(entry)
        self.room.request_keyframe(number)
        self.loop.call_later(window / 1e9, job.finish)
        try:
            picture = await asyncio.wrap_future(job.result)
        except StoreError as exc:
            self.stats["capture_errors"] += 1
            log.error("audit %s: capture not stored: %s", self.audit_id, exc)
            raise CaptureError(f"capture failed: {exc}") from exc
        except CaptureError:
            self.stats["capture_errors"] += 1
            raise
        finally:
            cam.captures.remove(entry)
        row = await self._persist(
            picture, "capture", cam.media_time(picture.frame), checkpoint, requested_by, key, number
        )
        self.stats["captures"] += 1
        return row

    async def _persist(
        self,
        picture: Picture,
        kind: str,
        media_time: float | None,
        checkpoint: str | None,
        requested_by: str | None,
        key: str | None = None,
        camera: int = 1,
    ) -> Evidence:
        frame, still = picture.frame, picture.still
        async with self.db.session() as s:
            return await evidence_repo.add_evidence(
                s,
                audit_id=self.audit_id,
                kind=kind,
                captured_at=dt.datetime.fromtimestamp(frame.arrival_ns / 1e9, dt.UTC),
                arrival_ns=frame.arrival_ns,
                media_time=media_time,
                rtp_timestamp=frame.rtp_timestamp,
                width=still.width,
                height=still.height,
                size=len(still.jpeg),
                sha256=still.sha256,
                sharpness=still.sharpness,
                checkpoint=checkpoint,
                requested_by=requested_by,
                blob=picture.blob,
                idempotency_key=key,
                camera=camera,
            )

    # -- segments ------------------------------------------------------------------------
    def _segment_closed(self, info: SegmentInfo, camera: int) -> None:
        """Writer thread: hand the closed segment to the loop for its row."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._spawn, self._persist_segment(info, camera))

    def _writer_error(self, exc: Exception) -> None:
        log.error("audit %s: recording error: %s", self.audit_id, exc)

    async def _persist_segment(self, info: SegmentInfo, camera: int) -> None:
        try:
            async with self.db.session() as s:
                fields = evidence_repo.segment_fields(self.audit_id, info, self.store.root, camera)
                await evidence_repo.add_segment(s, **fields)
        except Exception:
            # The files are closed and fsynced: the recovery at the next start or room opening
            # registers a segment file without a row, so it is not lost, only marked recovered.
            log.exception("audit %s: segment %d has no row yet", self.audit_id, info.seq)

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for cam in self.cameras.values():
            for job, _ in cam.captures:
                job.finish()
        await asyncio.gather(*(asyncio.to_thread(c.writer.close) for c in list(self.cameras.values())))
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class Recorders:
    """The recorders of this process's live rooms, and the worker pool they share."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.store = FileStore(settings.evidence_dir)
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="stills")
        self.by_audit: dict[str, RoomRecorder] = {}

    def attach(self, room: Room) -> None:
        recorder = RoomRecorder(room, self.db, self.store, self.settings, self.pool)
        self.by_audit[room.audit_id] = recorder

        async def forget() -> None:
            self.by_audit.pop(room.audit_id, None)

        room.closers.append(forget)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
