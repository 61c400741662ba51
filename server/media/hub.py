"""The media hub: one :class:`Room` per live audit, wiring publishers to viewers.

Facility phones publish video and audio; auditors publish audio. Each phone is a
**camera** with a stable number (1 .. :data:`MAX_CAMERAS`): the room forwards every
camera's encoded video untouched to every auditor, one outgoing track per camera (track
*n* of an auditor's connection carries camera *n*), the phones' current talker's audio to
every auditor, and the auditors' current talker's audio to the phones. In-process
consumers (the recorder) get the same encoded frames, tagged with their camera, through
:meth:`Room.subscribe_cameras`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from server.media.decoder import DecodedSink
from server.media.decoding import CameraDecoding
from server.media.frames import EncodedFrame, FrameSink
from server.media.participants import MAX_CAMERAS, Participant, TooManyCameras, free_camera
from server.media.talker import Talker
from server.media.tap import ReceiverTap
from server.media.tracks import ForwardTrack

__all__ = ["MAX_CAMERAS", "Hub", "Participant", "Room", "TooManyCameras"]

log = logging.getLogger(__name__)

LIVE_TIMEOUT_S = 2.5
CameraSink = Callable[[int, EncodedFrame], None]


@dataclass
class _Outputs:
    """The tracks the server sends to one participant."""

    video: ForwardTrack | None = None  # camera 1 (the first video track)
    audio: ForwardTrack | None = None
    cameras: dict[int, ForwardTrack] = field(default_factory=dict)  # camera number -> its track


@dataclass
class _VideoSource:
    participant_id: str
    tap: ReceiverTap
    codec: str | None = None
    last_ns: int = 0
    frames: int = 0
    camera: int = 1
    live: bool = False


@dataclass
class Room:
    """Live media state of one audit in this process."""

    audit_id: str
    keyframe_interval: float = 3.0
    participants: dict[str, Participant] = field(default_factory=dict)
    outputs: dict[str, _Outputs] = field(default_factory=dict)
    cameras: dict[int, _VideoSource] = field(default_factory=dict)  # camera number -> its phone's video
    media_state: str = "waiting"
    # Cameras in photo mode (see uplink_signals) -> the phone (its key) that held it when switched.
    photo_cameras: dict[int, str | None] = field(default_factory=dict)
    _talker: Talker = field(default_factory=Talker)  # the auditor the phones hear
    _phone_talker: Talker = field(default_factory=Talker)  # the phone the auditors hear
    _camera_of_key: dict[str, int] = field(default_factory=dict)  # the number a phone held last
    _camera_consumers: list[CameraSink] = field(default_factory=list)
    _video_consumers: list[FrameSink] = field(default_factory=list)
    _audio_consumers: list[FrameSink] = field(default_factory=list)
    _video_taps: dict[str, ReceiverTap] = field(default_factory=dict)
    _source_listeners: list[Callable[[int], None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _watchdog: asyncio.Task[None] | None = None
    _state_task: asyncio.Future[None] | None = None

    def __post_init__(self) -> None:
        self.decoding = CameraDecoding(self)

    # -- participants -------------------------------------------------------------------
    async def add(self, participant: Participant) -> None:
        """Enter the room; a phone gets its camera number (:class:`TooManyCameras` if none is free)."""
        released = None
        if participant.role == "staff":
            participant.camera = self.camera_for(participant.key)
            if participant.key is not None:
                self._camera_of_key[participant.key] = participant.camera
            if self.photo_cameras.get(participant.camera, participant.key) != participant.key:
                released = participant.camera  # another phone took the number: it films
                del self.photo_cameras[released]
        self.participants[participant.id] = participant
        self.outputs[participant.id] = _Outputs()
        await self.broadcast(
            {"type": "participant-joined", "participant": participant.public()}, skip=participant.id
        )
        if participant.role == "staff":
            await self.tell_auditors(self.cameras_message())
        if released is not None:
            await self.tell_auditors(self.photo_mode_message(released))
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch())

    def camera_for(self, key: str | None) -> int:
        """The camera number a joining phone gets (see :func:`free_camera`)."""
        before = self._camera_of_key.get(key) if key is not None else None
        return free_camera(list(self.participants.values()), key, before)

    async def remove(self, participant_id: str) -> None:
        left = self.participants.pop(participant_id, None)
        self._stop_outputs(participant_id)
        self.outputs.pop(participant_id, None)
        self._video_taps.pop(participant_id, None)
        for number, source in list(self.cameras.items()):
            if source.participant_id == participant_id:
                del self.cameras[number]
                self._camera_changed(number)
                self.decoding.update()
                await self._set_media_state("live" if self.is_live() else "waiting")
        self._talker.left(participant_id)
        self._phone_talker.left(participant_id)
        await self.broadcast({"type": "participant-left", "participant_id": participant_id})
        if left is not None and left.role == "staff":
            await self.tell_auditors(self.cameras_message())

    async def update(self, participant: Participant) -> None:
        await self.broadcast({"type": "participant-updated", "participant": participant.public()})

    def is_empty(self) -> bool:
        return not self.participants

    async def broadcast(self, message: dict[str, Any], skip: str | None = None) -> None:
        targets = [p for pid, p in self.participants.items() if pid != skip]
        await asyncio.gather(*(p.send(message) for p in targets), return_exceptions=True)

    async def tell_auditors(self, message: dict[str, Any]) -> None:
        auditors = [p for p in self.participants.values() if p.role == "auditor"]
        await asyncio.gather(*(p.send(message) for p in auditors), return_exceptions=True)

    def media_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "media", "state": self.media_state}
        if codec := self.video_codec():
            msg["codec"] = codec
        return msg

    def camera_list(self) -> list[dict[str, Any]]:
        """Every connected phone's camera: number, label, whose it is, and whether it is live."""
        out = []
        for number in range(1, MAX_CAMERAS + 1):
            p = self.camera_participant(number)
            if p is None:
                continue
            source = self.cameras.get(number)
            live = source is not None and source.participant_id == p.id and source.live
            out.append(
                {
                    "id": number,
                    "label": f"Camera {number}",
                    "participant": p.id,
                    "name": p.name,
                    "state": "live" if live else "waiting",
                    "codec": source.codec if source is not None and live else None,
                }
            )
        return out

    def in_photo_mode(self, camera: int | None) -> bool:
        return camera is not None and camera in self.photo_cameras

    def set_photo_mode(self, camera: int, on: bool) -> None:
        """Switch ``camera`` to photo mode (remembering whose phone it is) or back."""
        if on:
            holder = self.camera_participant(camera)
            self.photo_cameras[camera] = holder.key if holder is not None else None
        else:
            self.photo_cameras.pop(camera, None)

    def photo_mode_message(self, camera: int, by: str | None = None) -> dict[str, Any]:
        """``photo-mode`` for ``camera``: its state, who switched it, every camera now in photo mode."""
        return {
            "type": "photo-mode",
            "camera": camera,
            "on": camera in self.photo_cameras,
            "by": by,
            "cameras": sorted(self.photo_cameras),
        }

    def cameras_message(self) -> dict[str, Any]:
        return {"type": "cameras", "cameras": self.camera_list(), "max": MAX_CAMERAS}

    def camera_participant(self, camera: int) -> Participant | None:
        """The phone that holds camera number ``camera``: the one sending its video, else the newest."""
        source = self.cameras.get(camera)
        if source is not None and source.participant_id in self.participants:
            return self.participants[source.participant_id]
        holders = [p for p in self.participants.values() if p.camera == camera]
        return holders[-1] if holders else None

    def primary_camera(self) -> int | None:
        """The lowest-numbered live camera, else the lowest-numbered one: what "the camera" means."""
        live = sorted(n for n, c in self.cameras.items() if c.live)
        if live:
            return live[0]
        return min(self.cameras) if self.cameras else None

    async def _set_media_state(self, state: str) -> None:
        if state != self.media_state:
            self.media_state = state
            await self.broadcast(self.media_message())

    # -- peer wiring (called by server.media.peer) ---------------------------------------
    def new_outputs(self, participant_id: str, video_tracks: int = 1) -> _Outputs:
        """Fresh outgoing tracks for a participant's new peer connection.

        An auditor whose offer has ``video_tracks`` video sections gets one track per camera,
        up to :data:`MAX_CAMERAS`: its n-th video section carries camera n.
        """
        self._stop_outputs(participant_id)
        role = self.participants[participant_id].role
        outs = _Outputs(audio=ForwardTrack("audio", "opus"))
        if role == "auditor":
            for number in range(1, min(max(video_tracks, 1), MAX_CAMERAS) + 1):
                codec = self.video_codec(number) or self.video_codec() or "VP8"
                outs.cameras[number] = ForwardTrack("video", codec, self._keyframe_of(number))
            outs.video = outs.cameras[1]
        self.outputs[participant_id] = outs
        return outs

    def _keyframe_of(self, camera: int) -> Callable[[], None]:
        return lambda: self.request_keyframe(camera)

    def _stop_outputs(self, participant_id: str) -> None:
        outs = self.outputs.get(participant_id)
        if outs is None:
            return
        for track in (*outs.cameras.values(), outs.audio):
            if track is not None:
                track.stop()
        self.decoding.update()

    def attach_receiver(
        self, participant_id: str, tap_factory: Callable[[FrameSink], ReceiverTap], kind: str
    ) -> ReceiverTap:
        """Tap a participant's incoming track and route its frames."""
        participant = self.participants[participant_id]
        role = participant.role
        if kind == "video" and role == "staff":
            tap = tap_factory(lambda f: self._on_video(participant_id, f))
            self._video_taps[participant_id] = tap
            camera = participant.camera or 1
            self._switch_source(camera, _VideoSource(participant_id, tap, camera=camera))
            return tap
        if kind == "audio" and role == "staff":
            return tap_factory(lambda f: self._on_phone_audio(participant_id, f))
        if kind == "audio":
            return tap_factory(lambda f: self._on_auditor_audio(participant_id, f))
        return tap_factory(lambda f: None)  # video from an auditor: not used

    def viewer_ready(self, participant_id: str) -> None:
        """A viewer's peer connection is up: get it a keyframe now rather than in seconds."""
        self.request_keyframe()
        outs = self.outputs.get(participant_id)
        if outs is not None and outs.video is not None:
            self.decoding.update()

    def request_keyframe(self, camera: int | None = None) -> None:
        """Ask one camera's phone (or, without ``camera``, every camera's) for a keyframe."""
        for number, source in self.cameras.items():
            if camera is None or number == camera:
                source.tap.request_keyframe()

    def video_codec(self, camera: int | None = None) -> str | None:
        """The codec of ``camera``'s video, or without ``camera`` of the primary camera."""
        number = camera if camera is not None else self.primary_camera()
        source = self.cameras.get(number) if number is not None else None
        return source.codec if source is not None else None

    @property
    def source(self) -> _VideoSource | None:
        """The primary camera's video (see :meth:`primary_camera`)."""
        number = self.primary_camera()
        return self.cameras.get(number) if number is not None else None

    # -- consumers (the recorder) -----------------------------------------------------
    def subscribe(self, kind: str, sink: FrameSink) -> Callable[[], None]:
        """Every encoded frame of the phones' ``kind`` tracks (all cameras); returns an unsubscribe."""
        target = self._video_consumers if kind == "video" else self._audio_consumers
        target.append(sink)
        return lambda: target.remove(sink) if sink in target else None

    def subscribe_cameras(self, sink: CameraSink) -> Callable[[], None]:
        """Receive every encoded frame (video and audio) of every phone with its camera number."""
        self._camera_consumers.append(sink)
        return lambda: self._camera_consumers.remove(sink) if sink in self._camera_consumers else None

    def _switch_source(self, camera: int, source: _VideoSource | None) -> None:
        if source is None:
            self.cameras.pop(camera, None)
        else:
            self.cameras[camera] = source
        self._camera_changed(camera)

    def _camera_changed(self, camera: int) -> None:
        for outs in self.outputs.values():
            track = outs.cameras.get(camera)
            if track is not None:
                track.source_changed()
        for listener in self._source_listeners:
            listener(camera)

    def on_source_change(self, listener: Callable[[int], None]) -> None:
        """Be told (with the camera number) when a (new) phone becomes a camera's source, e.g. a rejoin."""
        self._source_listeners.append(listener)

    def is_live(self, camera: int | None = None) -> bool:
        """Whether ``camera`` (without it: any camera) sends video that reaches the server."""
        if camera is not None:
            source = self.cameras.get(camera)
            return source is not None and source.live
        return self.media_state == "live" and any(c.live for c in self.cameras.values())

    def subscribe_decoded(self, sink: DecodedSink) -> Callable[[], None]:
        """Receive decoded pictures of the primary camera (decoding runs only while subscribed)."""
        unsubscribe = self.decoding.subscribe(sink)
        self.request_keyframe()
        return unsubscribe

    # -- media routing (on the event loop; must stay cheap) ----------------------------
    def _on_video(self, participant_id: str, frame: EncodedFrame) -> None:
        participant = self.participants.get(participant_id)
        camera = participant.camera if participant is not None else None
        source = self.cameras.get(camera) if camera is not None else None
        if source is None or source.participant_id != participant_id or camera is None:
            return
        if source.codec != frame.codec:
            source.codec = frame.codec
            self.decoding.update()
        source.last_ns = frame.arrival_ns
        source.frames += 1
        if not source.live:
            source.live = True
            self._state_task = asyncio.ensure_future(self._camera_state_changed())
        for outs in self.outputs.values():
            track = outs.cameras.get(camera)
            if track is not None and track.codec == frame.codec:
                track.push(frame)
        for sink in self._video_consumers:
            sink(frame)
        for camera_sink in self._camera_consumers:
            camera_sink(camera, frame)
        self.decoding.submit(camera, frame)

    async def _camera_state_changed(self) -> None:
        await self._set_media_state("live" if any(c.live for c in self.cameras.values()) else "waiting")
        await self.tell_auditors(self.cameras_message())

    def _push_audio(self, role: str, frame: EncodedFrame) -> None:
        """Hand an audio frame to the outgoing audio track of everyone with ``role``."""
        for pid, outs in self.outputs.items():
            p = self.participants.get(pid)
            if outs.audio is not None and p is not None and p.role == role:
                outs.audio.push(frame)

    def _on_phone_audio(self, participant_id: str, frame: EncodedFrame) -> None:
        participant = self.participants.get(participant_id)
        camera = participant.camera if participant is not None else None
        for sink in self._audio_consumers:
            sink(frame)
        if camera is not None:
            for camera_sink in self._camera_consumers:
                camera_sink(camera, frame)
        if self._phone_talker.admits(participant_id, frame, self.participants.__contains__):
            self._push_audio("auditor", frame)

    def _on_auditor_audio(self, participant_id: str, frame: EncodedFrame) -> None:
        if self._talker.admits(participant_id, frame, self.participants.__contains__):
            self._push_audio("staff", frame)

    async def _watch(self) -> None:
        """Media liveness and periodic keyframes while anyone is in the room."""
        last_kf = time.monotonic()
        while self.participants:
            await asyncio.sleep(0.5)
            changed = False
            for source in list(self.cameras.values()):
                if source.frames:
                    live = time.time_ns() - source.last_ns <= LIVE_TIMEOUT_S * 1e9
                    changed = changed or live != source.live
                    source.live = live
            await self._set_media_state("live" if any(c.live for c in self.cameras.values()) else "waiting")
            if changed:
                await self.tell_auditors(self.cameras_message())
            if time.monotonic() - last_kf >= self.keyframe_interval:
                last_kf = time.monotonic()
                self.request_keyframe()
        self._watchdog = None

    async def close(self) -> None:
        await asyncio.gather(*(closer() for closer in self.closers), return_exceptions=True)
        for pid in list(self.outputs):
            self._stop_outputs(pid)
        self.decoding.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog


class Hub:
    """All live rooms of this process."""

    def __init__(
        self, keyframe_interval: float = 3.0, on_new_room: Callable[[Room], None] | None = None
    ) -> None:
        self.rooms: dict[str, Room] = {}
        self.keyframe_interval = keyframe_interval
        self.on_new_room = on_new_room

    def room(self, audit_id: str) -> Room:
        room = self.rooms.get(audit_id)
        if room is None:
            room = self.rooms[audit_id] = Room(audit_id, self.keyframe_interval)
            if self.on_new_room is not None:
                self.on_new_room(room)
        return room

    async def leave(self, audit_id: str, participant_id: str) -> None:
        room = self.rooms.get(audit_id)
        if room is None:
            return
        await room.remove(participant_id)
        if room.is_empty():
            await room.close()
            self.rooms.pop(audit_id, None)

    async def close_room(self, audit_id: str) -> None:
        """Close an audit's room whoever is still in it (the audit was completed)."""
        room = self.rooms.pop(audit_id, None)
        if room is not None:
            await room.close()

    async def close(self) -> None:
        await asyncio.gather(*(r.close() for r in self.rooms.values()))
        self.rooms.clear()
