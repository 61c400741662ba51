"""Signaling messages: parsed and validated at the edge into typed objects.

Pure functions, no I/O: the WebSocket endpoint feeds text in and sends what comes out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server import safejson

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_CHARS = 60 * 1024
MAX_CANDIDATE_CHARS = 1024
MAX_MID_CHARS = 32
MAX_MLINE_INDEX = 255
MAX_CAMERA_ID = 9  # a camera number's bound on the wire; the room's own limit may be lower
_LANG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_DEVICE = re.compile(r"[A-Za-z0-9._-]{8,64}")


class MessageError(ValueError):
    """A message the server refuses; ``code`` goes back to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Join:
    token: str | None
    lang: str | None
    client: str | None
    device: str | None = None
    # When the page opened this socket (ms since the epoch, the phone's clock): of two sockets
    # of one phone, the later-opened one is the phone's, whichever join the server ends first.
    opened: int | None = None


@dataclass(frozen=True)
class Offer:
    sdp: str


@dataclass(frozen=True)
class Candidate:
    candidate: dict[str, Any] | None


@dataclass(frozen=True)
class MediaState:
    audio: bool
    video: bool


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class Pong:
    """The answer to the server's heartbeat `ping`."""


@dataclass(frozen=True)
class Capture:
    checkpoint: str | None
    request_id: str | None
    camera: int | None = None  # which camera to capture from; default the sender's on-screen one


@dataclass(frozen=True)
class Consent:
    accepted: bool
    location: dict[str, float] | None
    lang: str | None = None  # the language of the notice the person read; the server hashes its own text


@dataclass(frozen=True)
class Goto:
    key: str | None


@dataclass(frozen=True)
class Pointer:
    x: float
    y: float
    camera: int | None = None  # whose picture was clicked; only that phone shows the marker


@dataclass(frozen=True)
class SelectCamera:
    """An auditor's large view now shows this camera: its pointer and captures go to it."""

    camera: int


@dataclass(frozen=True)
class PhotoRequest:
    checkpoint: str | None
    camera: int | None = None  # whose phone is asked; default the sender's on-screen camera


@dataclass(frozen=True)
class PhotoDeclined:
    """The person on the phone answered a photo request with "Not now"."""

    request_id: str | None
    checkpoint: str | None


@dataclass(frozen=True)
class PhotoQueue:
    """The phone's photos not yet uploaded: how many, their bytes, the oldest one's age."""

    count: int
    bytes: int
    oldest_s: float | None
    # The device SHA-256 of each photo waiting, when the phone sent them: a photo that arrives
    # later is then known to be off the phone without another report.
    sha256s: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Pause:
    """The phone paused (``paused``) or resumed its camera: during a break, say."""

    paused: bool


@dataclass(frozen=True)
class UplinkStats:
    """The phone's own view of its uplink, sampled from ``getStats()`` every ~2 s.

    Every field is optional (None: the browser did not report it yet).
    """

    video_kbps: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    limit: str | None = None  # qualityLimitationReason: none | bandwidth | cpu | other
    audio_kbps: float | None = None
    rtt_ms: float | None = None
    loss: float | None = None  # fraction 0..1 of video packets the server reported lost
    available_kbps: float | None = None  # the browser's estimate of what the uplink carries
    active: bool = True  # False while video is paused (photo mode)


@dataclass(frozen=True)
class PhotoMode:
    """An auditor switches a phone to photo mode (video paused, photos on request) or back."""

    on: bool
    camera: int | None = None  # which camera; default the sender's on-screen one, else the lowest


Message = (
    Join
    | Offer
    | Candidate
    | MediaState
    | Ping
    | Pong
    | Capture
    | Consent
    | Goto
    | Pointer
    | PhotoRequest
    | PhotoDeclined
    | PhotoQueue
    | Pause
    | SelectCamera
    | UplinkStats
    | PhotoMode
)


def _str(obj: dict[str, Any], key: str, limit: int, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MessageError("invalid", f"'{key}' must be a non-empty string")
    if len(value) > limit:
        raise MessageError("invalid", f"'{key}' is longer than {limit} characters")
    return value


def _bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise MessageError("invalid", f"'{key}' must be true or false")
    return value


def _lang(obj: dict[str, Any]) -> str | None:
    lang = _str(obj, "lang", 35, required=False)
    if lang is not None and not _LANG.fullmatch(lang):
        raise MessageError("invalid", "'lang' must be a language tag such as 'zh' or 'vi-VN'")
    return lang


def _join(obj: dict[str, Any]) -> Join:
    lang = _lang(obj)
    device = _str(obj, "device", 64, required=False)
    if device is not None and not _DEVICE.fullmatch(device):
        raise MessageError("invalid", "'device' must be 8-64 letters, digits, '.', '_' or '-'")
    token, client = _str(obj, "token", 200, required=False), _str(obj, "client", 200, required=False)
    return Join(token, lang, client, device, _optional_int(obj, "opened", MAX_EPOCH_MS))


def _candidate(obj: dict[str, Any]) -> Candidate:
    if "candidate" not in obj:
        raise MessageError("invalid", "'candidate' is required (null means end of candidates)")
    cand = obj["candidate"]
    if cand is None:
        return Candidate(None)
    if not isinstance(cand, dict):
        raise MessageError("invalid", "'candidate' must be an object or null")
    text = cand.get("candidate")
    if text in ("", None):
        return Candidate(None)
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE_CHARS:
        raise MessageError("invalid", "'candidate.candidate' must be a candidate line")
    mid, index = cand.get("sdpMid"), cand.get("sdpMLineIndex")
    if mid is not None and (not isinstance(mid, str) or len(mid) > MAX_MID_CHARS):
        raise MessageError("invalid", f"'candidate.sdpMid' must be a string of at most {MAX_MID_CHARS}")
    if index is not None and (
        not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_MLINE_INDEX
    ):
        raise MessageError("invalid", f"'candidate.sdpMLineIndex' must be an integer 0-{MAX_MLINE_INDEX}")
    if mid is None and index is None:
        raise MessageError("invalid", "a candidate needs 'sdpMid' or 'sdpMLineIndex'")
    return Candidate({"candidate": text, "sdpMid": mid, "sdpMLineIndex": index})


def _offer(obj: dict[str, Any]) -> Offer:
    sdp = _str(obj, "sdp", MAX_SDP_CHARS)
    assert sdp is not None
    if not sdp.startswith("v=0"):
        raise MessageError("bad_sdp", "'sdp' is not a session description (must start with v=0)")
    return Offer(sdp)


def _media_state(obj: dict[str, Any]) -> MediaState:
    return MediaState(_bool(obj, "audio"), _bool(obj, "video"))


def _ping(obj: dict[str, Any]) -> Ping:
    return Ping()


def _camera(obj: dict[str, Any], required: bool = False) -> int | None:
    value = obj.get("camera")
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAMERA_ID:
        raise MessageError("invalid", f"'camera' must be a camera number from 1 to {MAX_CAMERA_ID}")
    return value


def _capture(obj: dict[str, Any]) -> Capture:
    return Capture(
        _str(obj, "checkpoint", 100, required=False),
        _str(obj, "request_id", 64, required=False),
        _camera(obj),
    )


def _select_camera(obj: dict[str, Any]) -> SelectCamera:
    camera = _camera(obj, required=True)
    assert camera is not None
    return SelectCamera(camera)


def _number(obj: dict[str, Any], key: str, low: float, high: float) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise MessageError("invalid", f"'{key}' must be a number from {low} to {high}")
    return float(value)


def _location(obj: dict[str, Any]) -> dict[str, float] | None:
    loc = obj.get("location")
    if loc is None:
        return None
    if not isinstance(loc, dict):
        raise MessageError("invalid", "'location' must be an object with lat, lon and accuracy, or null")
    out = {"lat": _number(loc, "lat", -90, 90), "lon": _number(loc, "lon", -180, 180)}
    if loc.get("accuracy") is not None:
        out["accuracy"] = _number(loc, "accuracy", 0, 1e7)
    return out


def _consent(obj: dict[str, Any]) -> Consent:
    return Consent(_bool(obj, "accepted"), _location(obj), _lang(obj))


def _goto(obj: dict[str, Any]) -> Goto:
    return Goto(_str(obj, "key", 100, required=False))


def _pointer(obj: dict[str, Any]) -> Pointer:
    return Pointer(_number(obj, "x", 0, 1), _number(obj, "y", 0, 1), _camera(obj))


def _photo_request(obj: dict[str, Any]) -> PhotoRequest:
    return PhotoRequest(_str(obj, "checkpoint", 100, required=False), _camera(obj))


def _photo_declined(obj: dict[str, Any]) -> PhotoDeclined:
    return PhotoDeclined(
        _str(obj, "request_id", 64, required=False), _str(obj, "checkpoint", 100, required=False)
    )


MAX_QUEUED_PHOTOS = 1000
MAX_REPORTED_HASHES = 500  # 500 hashes fit a message (64 KiB) with room to spare
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_QUEUED_BYTES = 1 << 40
MAX_QUEUE_AGE_S = 366 * 24 * 3600


def _whole(obj: dict[str, Any], key: str, high: int) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise MessageError("invalid", f"'{key}' must be a whole number from 0 to {high}")
    return value


QUALITY_LIMITS = ("none", "bandwidth", "cpu", "other")
MAX_KBPS = 100_000.0
MAX_PIXELS_SIDE = 16_384
MAX_FPS = 240.0
MAX_RTT_MS = 60_000.0


def _optional_number(obj: dict[str, Any], key: str, high: float) -> float | None:
    if obj.get(key) is None:
        return None
    return _number(obj, key, 0, high)


MAX_EPOCH_MS = 2**53 - 1  # a JavaScript Date.now(), bounded as JSON numbers are exact


def _optional_int(obj: dict[str, Any], key: str, high: int) -> int | None:
    return None if obj.get(key) is None else _whole(obj, key, high)


def _photo_queue(obj: dict[str, Any]) -> PhotoQueue:
    count, size = _whole(obj, "count", MAX_QUEUED_PHOTOS), _whole(obj, "bytes", MAX_QUEUED_BYTES)
    oldest = None if obj.get("oldest_s") is None else _number(obj, "oldest_s", 0, MAX_QUEUE_AGE_S)
    if (count == 0) != (oldest is None):
        raise MessageError("invalid", "'oldest_s' is null exactly when 'count' is 0")
    hashes = obj.get("sha256s")
    if hashes is None:
        return PhotoQueue(count, size, oldest)
    if (
        not isinstance(hashes, list)
        or len(hashes) != count
        or len(hashes) > MAX_REPORTED_HASHES
        or not all(isinstance(h, str) and SHA256_HEX.fullmatch(h) for h in hashes)
    ):
        raise MessageError(
            "invalid",
            f"'sha256s' must list the {count} photos' SHA-256s (64 lowercase hex each, "
            f"at most {MAX_REPORTED_HASHES}) or be left out",
        )
    return PhotoQueue(count, size, oldest, tuple(hashes))
def _uplink_stats(obj: dict[str, Any]) -> UplinkStats:
    limit = obj.get("limit")
    if limit is not None and limit not in QUALITY_LIMITS:
        raise MessageError("invalid", f"'limit' must be one of {', '.join(QUALITY_LIMITS)} or null")
    active = obj.get("active", True)
    if not isinstance(active, bool):
        raise MessageError("invalid", "'active' must be true or false")
    return UplinkStats(
        video_kbps=_optional_number(obj, "video_kbps", MAX_KBPS),
        width=_optional_int(obj, "width", MAX_PIXELS_SIDE),
        height=_optional_int(obj, "height", MAX_PIXELS_SIDE),
        fps=_optional_number(obj, "fps", MAX_FPS),
        limit=limit,
        audio_kbps=_optional_number(obj, "audio_kbps", MAX_KBPS),
        rtt_ms=_optional_number(obj, "rtt_ms", MAX_RTT_MS),
        loss=_optional_number(obj, "loss", 1),
        available_kbps=_optional_number(obj, "available_kbps", MAX_KBPS),
        active=active,
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "join": _join,
    "offer": _offer,
    "candidate": _candidate,
    "media-state": _media_state,
    "ping": _ping,
    "pong": lambda obj: Pong(),
    "capture": _capture,
    "consent": _consent,
    "goto": _goto,
    "pointer": _pointer,
    "photo-request": _photo_request,
    "photo-declined": _photo_declined,
    "photo-queue": _photo_queue,
    "pause": lambda obj: Pause(True),
    "resume": lambda obj: Pause(False),
    "select-camera": _select_camera,
    "uplink-stats": _uplink_stats,
    "photo-mode": lambda obj: PhotoMode(_bool(obj, "on"), _camera(obj)),
}


def parse(text: str | bytes) -> Message:
    """Validate one incoming frame into a message object or raise :class:`MessageError`."""
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    if size > MAX_MESSAGE_BYTES:
        raise MessageError("too_large", f"message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        obj = safejson.loads(text)
    except safejson.JsonError as exc:
        raise MessageError("bad_json", f"message is {exc}") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise MessageError("bad_json", "message must be a JSON object with a string 'type'")
    parser = _PARSERS.get(obj["type"])
    if parser is None:
        raise MessageError("unknown_type", f"unknown message type {obj['type'][:40]!r}")
    return parser(obj)


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def rate_limited(wait_s: float) -> dict[str, Any]:
    """The answer to a message over the socket's rate limit; the socket stays open."""
    retry_ms = max(1, round(wait_s * 1000))
    return error("rate_limited", f"too many messages; this one was not handled, retry in {retry_ms} ms") | {
        "retry_after_ms": retry_ms
    }
