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
class Capture:
    checkpoint: str | None
    request_id: str | None


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


@dataclass(frozen=True)
class PhotoRequest:
    checkpoint: str | None


@dataclass(frozen=True)
class PhotoDeclined:
    """The person on the phone answered a photo request with "Not now"."""

    request_id: str | None
    checkpoint: str | None


@dataclass(frozen=True)
class Pause:
    """The phone paused (``paused``) or resumed its camera: during a break, say."""

    paused: bool


Message = (
    Join
    | Offer
    | Candidate
    | MediaState
    | Ping
    | Capture
    | Consent
    | Goto
    | Pointer
    | PhotoRequest
    | PhotoDeclined
    | Pause
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
    return Join(token, lang, client, device)


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


def _capture(obj: dict[str, Any]) -> Capture:
    return Capture(_str(obj, "checkpoint", 100, required=False), _str(obj, "request_id", 64, required=False))


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
    return Pointer(_number(obj, "x", 0, 1), _number(obj, "y", 0, 1))


def _photo_request(obj: dict[str, Any]) -> PhotoRequest:
    return PhotoRequest(_str(obj, "checkpoint", 100, required=False))


def _photo_declined(obj: dict[str, Any]) -> PhotoDeclined:
    return PhotoDeclined(
        _str(obj, "request_id", 64, required=False), _str(obj, "checkpoint", 100, required=False)
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "join": _join,
    "offer": _offer,
    "candidate": _candidate,
    "media-state": _media_state,
    "ping": _ping,
    "capture": _capture,
    "consent": _consent,
    "goto": _goto,
    "pointer": _pointer,
    "photo-request": _photo_request,
    "photo-declined": _photo_declined,
    "pause": lambda obj: Pause(True),
    "resume": lambda obj: Pause(False),
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
