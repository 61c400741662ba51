"""The media hub: one :class:`Room` per live audit, wiring publishers to viewers.

The facility phone publishes video and audio; auditors publish audio. The room forwards
the phone's encoded video to every auditor untouched, the phone's audio to every auditor,
and the current talker's audio to the phone. In-process consumers (the recorder) get the
same encoded frames through :meth:`Room.subscribe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import av

from server.media.decoder import DecodedSink, DecodeWorker
from server.media.frames import EncodedFrame, FrameSink
from server.media.tap import ReceiverTap
from server.media.tracks import ForwardTrack

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
LIVE_TIMEOUT_S = 2.5
TALKER_HOLD_S = 1.0
LOUD_DBOV = 50  # audio level (0 loudest .. 127 silent) that counts as speech


@dataclass
class Participant:
    id: str
    role: str  # "auditor" | "staff"
    name: str
    send: Send
    audio: bool = True
    video: bool = True
    lang: str | None = None
    paused: bool = False  # the phone's camera is paused (a break): it sends no picture

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "name": self.name,
            "audio": self.audio,
            "video": self.video,
            "paused": self.paused,
            "lang": self.lang,  # the phone's language (primary subtag), as it said in `join`
        }


@dataclass
class _Outputs:
    """The tracks the server sends to one participant."""

    video: ForwardTrack | None = None
    audio: ForwardTrack | None = None


@dataclass
class _VideoSource:
    participant_id: str
    tap: ReceiverTap
    codec: str | None = None
    last_ns: int = 0
    frames: int = 0


@dataclass
class Room:
    """Live media state of one audit in this process."""

    audit_id: str
    keyframe_interval: float = 3.0
    participants: dict[str, Participant] = field(default_factory=dict)
    outputs: dict[str, _Outputs] = field(default_factory=dict)
    source: _VideoSource | None = None
    media_state: str = "waiting"
    _talker: str | None = None
    _talker_loud_at: float = 0.0
    _video_consumers: list[FrameSink] = field(default_factory=list)
    _audio_consumers: list[FrameSink] = field(default_factory=list)
    _decoded_consumers: list[DecodedSink] = field(default_factory=list)
    _decoder: DecodeWorker | None = None
    _video_taps: dict[str, ReceiverTap] = field(default_factory=dict)
    _source_listeners: list[Callable[[], None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _watchdog: asyncio.Task[None] | None = None
    _state_task: asyncio.Future[None] | None = None

    # -- participants -------------------------------------------------------------------
    async def add(self, participant: Participant) -> None:
        self.participants[participant.id] = participant
        self.outputs[participant.id] = _Outputs()
        await self.broadcast(
            {"type": "participant-joined", "participant": participant.public()}, skip=participant.id
        )
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch())

    async def remove(self, participant_id: str) -> None:
        self.participants.pop(participant_id, None)
        self._stop_outputs(participant_id)
        self.outputs.pop(participant_id, None)
        self._video_taps.pop(participant_id, None)
        if self.source is not None and self.source.participant_id == participant_id:
            # Another phone still publishing (e.g. a second device) takes over.
            if self._video_taps:
                pid, tap = list(self._video_taps.items())[-1]
                self._switch_source(_VideoSource(pid, tap))
                self.request_keyframe()
            else:
                self.source = None
            await self._set_media_state("waiting")
        if self._talker == participant_id:
            self._talker = None
        await self.broadcast({"type": "participant-left", "participant_id": participant_id})

    async def update(self, participant: Participant) -> None:
        await self.broadcast({"type": "participant-updated", "participant": participant.public()})

    def is_empty(self) -> bool:
        return not self.participants

    async def broadcast(self, message: dict[str, Any], skip: str | None = None) -> None:
        targets = [p for pid, p in self.participants.items() if pid != skip]
        await asyncio.gather(*(p.send(message) for p in targets), return_exceptions=True)

    def media_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "media", "state": self.media_state}
        if self.source is not None and self.source.codec:
            msg["codec"] = self.source.codec
        return msg

    async def _set_media_state(self, state: str) -> None:
        if state != self.media_state:
            self.media_state = state
            await self.broadcast(self.media_message())

    # -- peer wiring (called by server.media.peer) ---------------------------------------
    def new_outputs(self, participant_id: str) -> _Outputs:
        """Fresh outgoing tracks for a participant's new peer connection."""
        self._stop_outputs(participant_id)
        role = self.participants[participant_id].role
        outs = _Outputs(audio=ForwardTrack("audio", "opus"))
        if role == "auditor":
            outs.video = ForwardTrack("video", self.video_codec() or "VP8", self.request_keyframe)
        self.outputs[participant_id] = outs
        return outs

    def _stop_outputs(self, participant_id: str) -> None:
        outs = self.outputs.get(participant_id)
        if outs is None:
            return
        for track in (outs.video, outs.audio):
            if track is not None:
                track.stop()
        self._update_decoder()

    def attach_receiver(
        self, participant_id: str, tap_factory: Callable[[FrameSink], ReceiverTap], kind: str
    ) -> ReceiverTap:
        """Tap a participant's incoming track and route its frames."""
        role = self.participants[participant_id].role
        if kind == "video" and role == "staff":
            tap = tap_factory(lambda f: self._on_video(participant_id, f))
            self._video_taps[participant_id] = tap
            self._switch_source(_VideoSource(participant_id, tap))
            return tap
        if kind == "audio" and role == "staff":
            return tap_factory(lambda f: self._on_phone_audio(f))
        if kind == "audio":
            return tap_factory(lambda f: self._on_auditor_audio(participant_id, f))
        return tap_factory(lambda f: None)  # video from an auditor: not used

    def viewer_ready(self, participant_id: str) -> None:
        """A viewer's peer connection is up: get it a keyframe now rather than in seconds."""
        self.request_keyframe()
        outs = self.outputs.get(participant_id)
        if outs is not None and outs.video is not None:
            self._update_decoder()

    def request_keyframe(self) -> None:
        if self.source is not None:
            self.source.tap.request_keyframe()

    def video_codec(self) -> str | None:
        return self.source.codec if self.source is not None else None

    # -- consumers (the recorder) -----------------------------------------------------
    def subscribe(self, kind: str, sink: FrameSink) -> Callable[[], None]:
        """Receive every encoded frame of the phone's ``kind`` track; returns an unsubscribe."""
        target = self._video_consumers if kind == "video" else self._audio_consumers
        target.append(sink)
        return lambda: target.remove(sink) if sink in target else None

    def _switch_source(self, source: _VideoSource | None) -> None:
        if self.source is not None:
            for outs in self.outputs.values():
                if outs.video is not None:
                    outs.video.source_changed()
        self.source = source
        for listener in self._source_listeners:
            listener()

    def on_source_change(self, listener: Callable[[], None]) -> None:
        """Be told when a (new) phone becomes the video source, e.g. after a rejoin."""
        self._source_listeners.append(listener)

    def is_live(self) -> bool:
        return self.media_state == "live" and self.source is not None

    def subscribe_decoded(self, sink: DecodedSink) -> Callable[[], None]:
        """Receive decoded pictures of the phone's video (decoding runs only while subscribed)."""
        self._decoded_consumers.append(sink)
        self._update_decoder()
        self.request_keyframe()

        def unsubscribe() -> None:
            if sink in self._decoded_consumers:
                self._decoded_consumers.remove(sink)
            self._update_decoder()

        return unsubscribe

    # -- media routing (on the event loop; must stay cheap) ----------------------------
    def _on_video(self, participant_id: str, frame: EncodedFrame) -> None:
        source = self.source
        if source is None or source.participant_id != participant_id:
            return
        if source.codec != frame.codec:
            source.codec = frame.codec
            self._update_decoder()
        source.last_ns = frame.arrival_ns
        source.frames += 1
        if self.media_state != "live":
            self._state_task = asyncio.ensure_future(self._set_media_state("live"))
        for outs in self.outputs.values():
            if outs.video is not None and outs.video.codec == frame.codec:
                outs.video.push(frame)
        for sink in self._video_consumers:
            sink(frame)
        if self._decoder is not None:
            self._decoder.submit(frame)

    def _on_decoded(self, picture: av.VideoFrame, frame: EncodedFrame) -> None:
        codec = self.video_codec()
        for outs in self.outputs.values():
            if outs.video is not None and outs.video.codec != codec:
                outs.video.push_decoded(picture)
        for sink in self._decoded_consumers:
            sink(picture, frame)

    def _update_decoder(self) -> None:
        codec = self.video_codec()
        mismatch = any(
            o.video is not None and codec and o.video.codec != codec and o.video.readyState == "live"
            for o in self.outputs.values()
        )
        wanted = bool(self._decoded_consumers) or mismatch
        if wanted and self._decoder is None:
            self._decoder = DecodeWorker(asyncio.get_running_loop(), self._on_decoded)
        elif not wanted and self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def _push_audio(self, role: str, frame: EncodedFrame) -> None:
        """Hand an audio frame to the outgoing audio track of everyone with ``role``."""
        for pid, outs in self.outputs.items():
            p = self.participants.get(pid)
            if outs.audio is not None and p is not None and p.role == role:
                outs.audio.push(frame)

    def _on_phone_audio(self, frame: EncodedFrame) -> None:
        self._push_audio("auditor", frame)
        for sink in self._audio_consumers:
            sink(frame)

    def _on_auditor_audio(self, participant_id: str, frame: EncodedFrame) -> None:
        now = time.monotonic()
        loud = frame.audio_level is not None and frame.audio_level < LOUD_DBOV
        if self._talker is None or (loud and now - self._talker_loud_at > TALKER_HOLD_S):
            self._talker = participant_id
        if participant_id != self._talker:
            return
        if loud:
            self._talker_loud_at = now
        self._push_audio("staff", frame)

    async def _watch(self) -> None:
        """Media liveness and periodic keyframes while anyone is in the room."""
        last_kf = time.monotonic()
        while self.participants:
            await asyncio.sleep(0.5)
            source = self.source
            if source is not None and source.frames:
                stale = time.time_ns() - source.last_ns > LIVE_TIMEOUT_S * 1e9
                await self._set_media_state("waiting" if stale else "live")
            if time.monotonic() - last_kf >= self.keyframe_interval:
                last_kf = time.monotonic()
                self.request_keyframe()
        self._watchdog = None

    async def close(self) -> None:
        await asyncio.gather(*(closer() for closer in self.closers), return_exceptions=True)
        for pid in list(self.outputs):
            self._stop_outputs(pid)
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None
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
