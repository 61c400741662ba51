"""Which of a room's cameras are decoded, and where their pictures go.

The room forwards encoded video; a camera is decoded only while something needs its pixels:
a viewer whose connection negotiated another codec (aiortc re-encodes for that viewer alone),
or an in-process consumer of pictures (the periodic stills), which gets the primary camera's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import av

from server.media.decoder import DecodedSink, DecodeWorker
from server.media.frames import EncodedFrame

if TYPE_CHECKING:
    from server.media.hub import Room


class CameraDecoding:
    """One room's decoding: a :class:`DecodeWorker` per camera that needs one, no more."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.workers: dict[int, DecodeWorker] = {}  # camera number -> its decoding
        self.consumers: list[DecodedSink] = []

    def subscribe(self, sink: DecodedSink) -> Callable[[], None]:
        """Receive the primary camera's pictures (it is decoded while anyone is subscribed)."""
        self.consumers.append(sink)
        self.update()

        def unsubscribe() -> None:
            if sink in self.consumers:
                self.consumers.remove(sink)
            self.update()

        return unsubscribe

    def submit(self, camera: int, frame: EncodedFrame) -> None:
        worker = self.workers.get(camera)
        if worker is not None:
            worker.submit(frame)

    def update(self) -> None:
        """Decode each camera whose viewers include one with another codec, and the primary
        camera while anyone needs pixels; stop the others' decoding."""
        room = self.room
        primary = room.primary_camera()
        for camera in set(room.cameras) | set(self.workers):
            codec = room.video_codec(camera)
            mismatch = codec is not None and any(
                (track := o.cameras.get(camera)) is not None
                and track.codec != codec
                and track.readyState == "live"
                for o in room.outputs.values()
            )
            wanted = mismatch or (bool(self.consumers) and camera == primary)
            worker = self.workers.get(camera)
            if wanted and worker is None:
                self.workers[camera] = DecodeWorker(asyncio.get_running_loop(), self._sink(camera))
            elif not wanted and worker is not None:
                worker.close()
                del self.workers[camera]

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()

    def _sink(self, camera: int) -> DecodedSink:
        return lambda picture, frame: self._decoded(camera, picture, frame)

    def _decoded(self, camera: int, picture: av.VideoFrame, frame: EncodedFrame) -> None:
        room = self.room
        codec = room.video_codec(camera)
        for outs in room.outputs.values():
            track = outs.cameras.get(camera)
            if track is not None and track.codec != codec:
                track.push_decoded(picture)
        if camera == room.primary_camera():
            for sink in self.consumers:
                sink(picture, frame)
