"""Helpers shared by the JSON API endpoints: auth, body parsing, serialisation."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from starlette.requests import Request

from server.auth import current_user
from server.db.models import Audit, User
from server.errors import ApiError

MAX_JSON_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY = 200


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as every JSON timestamp of the API."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def require_user(request: Request) -> User:
    user = await current_user(request)
    if user is None:
        raise ApiError(401, "unauthorized", "sign in or send 'Authorization: Bearer <token>'")
    return user


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, refusing oversized or malformed bodies."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"request body over {MAX_JSON_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(413, "too_large", f"request body over {MAX_JSON_BYTES} bytes")
    if not body.strip():
        return {}
    return json_object(body)


def json_object(body: bytes) -> dict[str, Any]:
    """Parse a body that must be a JSON object, or raise a 400 that says why."""
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"body is not valid JSON: {exc}") from exc
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


def audit_json(audit: Audit) -> dict[str, Any]:
    return {
        "id": audit.id,
        "title": audit.title,
        "facility": {
            "name": audit.facility_name,
            "country": audit.facility_country,
            "address": audit.facility_address,
        },
        "status": audit.status,
        "created_at": iso(audit.created_at),
        "created_by": audit.created_by,
        "completed_at": iso(audit.completed_at),
        "template": _template_ref(audit),
        "current_checkpoint": audit.current_checkpoint,
        "outcome": audit.outcome,
    }


def _template_ref(audit: Audit) -> dict[str, Any] | None:
    snap = audit.template_snapshot
    if snap is None:
        return None
    return {"key": snap.get("key"), "version": snap.get("version"), "title": snap.get("title")}
