"""Endpoints the facility phone calls with its invite token: photos and the pre-audit tech check.

The phone authenticates with ``Authorization: Invite <token>``: scoped to its one audit,
expiring and revocable like the invite itself.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api.common import idempotency_key, read_json
from server.context import ctx
from server.db import evidence_repo, repo, walkthrough_repo
from server.db.models import Audit, Invite
from server.errors import ApiError
from server.params import declared_length
from server.photos import check_sha256, claimed_sha256
from server.recording import keep_upload, stored_evidence
from server.signaling.messages import MAX_CAMERA_ID
from server.views import evidence_json, iso

MAX_PHOTO_BYTES = 15 * 1024 * 1024
UPLOAD_PROBE_BYTES = 4 * 1024 * 1024
MAX_CHECKPOINT_CHARS = 100


async def require_invite(request: Request, *, writes: bool = True) -> tuple[Invite, Audit]:
    """The invite of the ``Authorization: Invite`` header and its audit; writes need an open audit."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "invite" or not token.strip() or len(token) > 200:
        raise ApiError(401, "unauthorized", "send 'Authorization: Invite <token>' from the invite link")
    async with ctx(request).db.session() as s:
        invite = await repo.valid_invite(s, token.strip())
        audit = await repo.get_audit(s, invite.audit_id) if invite else None
    if invite is None or audit is None:
        raise ApiError(401, "unauthorized", "this invite link is invalid, expired or revoked")
    if audit.id != request.path_params.get("audit_id", audit.id):
        raise ApiError(403, "forbidden", "this invite is for another audit")
    if writes and audit.status != "open":
        raise ApiError(409, "audit_completed", "this audit is finished: nothing more can be added")
    return invite, audit


def _camera(raw: Any) -> int | None:
    """The camera number the server gave the phone (``welcome``, ``photo-request``), if it sent one."""
    if raw in (None, ""):
        return None
    text = str(raw)
    if not text.isdigit() or not 1 <= int(text) <= MAX_CAMERA_ID:
        raise ApiError(422, "invalid", f"'camera' must be a camera number from 1 to {MAX_CAMERA_ID}")
    return int(text)


def _float(form: Any, name: str, low: float, high: float) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(str(raw))
    except ValueError as exc:
        raise ApiError(422, "invalid", f"'{name}' must be a number") from exc
    if not low <= value <= high:
        raise ApiError(422, "invalid", f"'{name}' must be from {low} to {high}")
    return value


def _checkpoint(raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or len(raw) > MAX_CHECKPOINT_CHARS:
        raise ApiError(422, "invalid", f"'checkpoint' must be at most {MAX_CHECKPOINT_CHARS} characters")
    return raw


def _device_time(raw: Any) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    try:
        value = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(422, "invalid", "'device_time' must be an ISO 8601 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def upload_photo(request: Request) -> Response:
    """A full-resolution photo from the phone, bound to a checkpoint, durable before the 201.

    The phone may send the SHA-256 it computed over the bytes (``sha256``) and when it took
    the photo (``device_time``); the server checks the hash and keeps both times. A retry
    with the same ``Idempotency-Key`` gets the stored item, never a second one.
    """
    invite, audit = await require_invite(request)
    app = ctx(request)
    actor = f"invite:{invite.id}"
    key = evidence_repo.idempotency_key(actor, idempotency_key(request))
    if (done := await stored_evidence(app.db, audit.id, key)) is not None:
        return JSONResponse(evidence_json(done), status_code=201)  # a retry: the photo is stored
    app.photos.admit(invite.id)
    declared = declared_length(request)
    if declared is not None and declared > MAX_PHOTO_BYTES + 64 * 1024:
        raise ApiError(413, "too_large", f"photos are limited to {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    async with request.form(max_files=1, max_fields=20, max_part_size=MAX_PHOTO_BYTES + 1) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "invalid", "send the picture as the multipart field 'file'")
        data = await upload.read(MAX_PHOTO_BYTES + 1)
        if len(data) > MAX_PHOTO_BYTES:
            raise ApiError(413, "too_large", f"photos are limited to {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
        checkpoint = _checkpoint(form.get("checkpoint")) or audit.current_checkpoint
        device_time = _device_time(form.get("device_time"))
        claimed = claimed_sha256(form.get("sha256"))
        lat, lon = _float(form, "lat", -90, 90), _float(form, "lon", -180, 180)
        accuracy = _float(form, "accuracy", 0, 1e7)
        camera = _camera(form.get("camera"))
    received = dt.datetime.now(dt.UTC)  # the whole photo is here: its server time
    await check_sha256(data, claimed)
    picture = await app.photos.check(data)
    width, height = picture.width, picture.height
    blob = f"{audit.id}/photos/{uuid.uuid4()}{picture.suffix}"
    stored = await keep_upload(app.recorders.store, blob, data, "photo")
    location = {"lat": lat, "lon": lon, "accuracy": accuracy} if lat is not None and lon is not None else None
    async with app.db.session() as s:
        row = await evidence_repo.add_evidence(
            s,
            audit_id=audit.id,
            kind="photo",
            captured_at=received,
            arrival_ns=int(received.timestamp() * 1e9),
            media_time=None,
            rtp_timestamp=None,
            width=width,
            height=height,
            size=len(data),
            sha256=stored.sha256,
            sharpness=0.0,
            checkpoint=checkpoint,
            requested_by=actor,
            device_time=device_time,
            device_sha256=claimed,
            location=location,
            blob=blob,
            idempotency_key=key,
            camera=camera,
        )
        if row.blob != blob:  # a concurrent retry stored it first; this copy is swept at start-up
            return JSONResponse(evidence_json(row), status_code=201)
        entry = {"evidence": row.id, "sha256": row.sha256, "camera": camera}
        await repo.record_event(s, audit.id, "photo", actor, entry)
    item = evidence_json(row)
    room = app.hub.rooms.get(audit.id)
    if room is not None:
        await room.broadcast({"type": "captured", "item": item})
    return JSONResponse(item, status_code=201)


async def upload_probe(request: Request) -> Response:
    """The tech check times an upload of a few MB to estimate the phone's upload bandwidth."""
    await require_invite(request, writes=False)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > UPLOAD_PROBE_BYTES:
            raise ApiError(413, "too_large", "probe uploads are limited to 4 MB")
    return JSONResponse({"received": size})


async def save_tech_check(request: Request) -> Response:
    invite, audit = await require_invite(request)
    body = await read_json(request)
    results = {
        "camera": _flag(body, "camera"),
        "microphone": _flag(body, "microphone"),
        "server": _flag(body, "server"),
        "rtt_ms": _num(body, "rtt_ms", 0, 60_000),
        "upload_kbps": _num(body, "upload_kbps", 0, 10_000_000),
        "video": str(body.get("video") or "")[:40] or None,
        "user_agent": request.headers.get("user-agent", "")[:300],
    }
    async with ctx(request).db.session() as s:
        row = await walkthrough_repo.add_tech_check(
            s, audit_id=audit.id, invite_id=invite.id, results=results
        )
    return JSONResponse(
        {"id": row.id, "created_at": iso(row.created_at), "results": results}, status_code=201
    )


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise ApiError(422, "invalid", f"'{name}' must be true, false or null")
    return value


def _num(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(422, "invalid", f"'{name}' must be a number from {low} to {high}")
    return float(value)


routes = [
    Route("/api/audits/{audit_id}/photos", upload_photo, methods=["POST"]),
    Route("/api/tech-check/upload", upload_probe, methods=["POST"]),
    Route("/api/tech-check", save_tech_check, methods=["POST"]),
]
