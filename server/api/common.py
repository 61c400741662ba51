"""Helpers shared by the JSON API endpoints: body parsing and field validation."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from server import safejson
from server.context import ctx
from server.errors import ApiError
from server.params import declared_length

MAX_JSON_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY = 200


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, refusing oversized or malformed bodies."""
    declared = declared_length(request)
    if declared is not None and declared > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"request body over {MAX_JSON_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(413, "too_large", f"request body over {MAX_JSON_BYTES} bytes")
    if not body.strip():
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as 'Content-Type: application/json'")
    return json_object(body)


def json_object(body: bytes) -> dict[str, Any]:
    """Parse a body that must be a JSON object, or raise a 400 that says why."""
    try:
        obj = safejson.loads(body)
    except safejson.JsonError as exc:
        raise ApiError(400, "bad_json", f"body is {exc}") from exc
    if not isinstance(obj, dict):
        raise ApiError(400, "bad_json", "body must be a JSON object")
    return obj


def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header: 1 to 200 visible ASCII characters, or absent."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not all(33 <= ord(c) < 127 for c in key):
        raise ApiError(
            400, "invalid", f"'Idempotency-Key' must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        )
    return key


def text_field(obj: dict[str, Any], key: str, *, limit: int, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise ApiError(422, "invalid", f"'{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid", f"'{key}' must be a non-empty string")
    value = value.strip()
    if len(value) > limit:
        raise ApiError(422, "invalid", f"'{key}' must be at most {limit} characters")
    return value


# What the evidence store serves: pictures, and the videos of corrective-action answers.
STORED_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}


def stored_file(request: Request, blob: str, sha256: str | None, missing: str) -> Response:
    """A file of the evidence store: its content never changes, so its hash is its ETag and
    it may be cached for good (``missing``: the 410's message when the file is gone)."""
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}
    if sha256:
        headers["ETag"] = f'"{sha256}"'
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
    path = ctx(request).recorders.store.path(blob)
    if path is None or not path.exists():
        raise ApiError(410, "gone", missing)
    media_type = STORED_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers=headers)
