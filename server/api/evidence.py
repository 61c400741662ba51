"""Evidence and recording: /api/audits/{id}/evidence, /api/evidence/..., captures, segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.api.audits import load_audit
from server.api.common import idempotency_key, iso, read_json, require_user, text_field
from server.context import ctx
from server.db import evidence_repo, repo
from server.db.models import Evidence, Segment
from server.errors import ApiError
from server.recording import CaptureError, stored_evidence

KINDS = ("still", "capture", "photo")
IMAGE_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
MAX_PAGE = 500


def evidence_json(row: Evidence) -> dict[str, Any]:
    return {
        "id": row.id,
        "audit_id": row.audit_id,
        "kind": row.kind,
        "seq": row.seq,
        "captured_at": iso(row.captured_at),
        "arrival_ns": row.arrival_ns,
        "media_time": row.media_time,
        "rtp_timestamp": row.rtp_timestamp,
        "width": row.width,
        "height": row.height,
        "size": row.size,
        "sha256": row.sha256,
        "sharpness": round(row.sharpness, 2),
        "checkpoint": row.checkpoint,
        "requested_by": row.requested_by,
        "image_url": f"/api/evidence/{row.id}/image",
    }


def segment_json(row: Segment) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "codec": row.codec,
        "start": iso(dt.datetime.fromtimestamp(row.start_ns / 1e9, dt.UTC)),
        "end": iso(dt.datetime.fromtimestamp(row.end_ns / 1e9, dt.UTC)),
        "start_ns": row.start_ns,
        "end_ns": row.end_ns,
        "video_frames": row.video_frames,
        "audio_frames": row.audio_frames,
        "size": row.size,
        "sha256": row.sha256,
        "index_sha256": row.index_sha256,
        "url": f"/api/audits/{row.audit_id}/recording/{row.seq}",
        "index_url": f"/api/audits/{row.audit_id}/recording/{row.seq}/index",
        "recovered": evidence_repo.recovered_json(row),
    }


def _time_param(request: Request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, "invalid", f"'{name}' must be an ISO 8601 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise ApiError(400, "invalid", f"'{name}' must be a whole number from 0 to {high}")
    return int(raw)


async def list_evidence(request: Request) -> Response:
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
    kind = request.query_params.get("kind")
    if kind is not None and kind not in KINDS:
        raise ApiError(400, "invalid", f"'kind' must be one of {', '.join(KINDS)}")
    limit = max(1, _int_param(request, "limit", 100, MAX_PAGE))
    cursor = _int_param(request, "cursor", 0, 2**31)
    async with ctx(request).db.session() as s:
        rows = await evidence_repo.list_evidence(
            s,
            audit.id,
            kind=kind,
            since=_time_param(request, "since"),
            until=_time_param(request, "until"),
            after_seq=cursor,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return JSONResponse(
        {"items": [evidence_json(r) for r in rows], "next": str(rows[-1].seq) if more else None}
    )


async def _evidence(request: Request) -> Evidence:
    async with ctx(request).db.session() as s:
        row = await evidence_repo.get_evidence(s, request.path_params["evidence_id"])
    if row is None:
        raise ApiError(404, "not_found", "no such evidence item")
    return row


async def get_evidence(request: Request) -> Response:
    await require_user(request)
    return JSONResponse(evidence_json(await _evidence(request)))


async def evidence_image(request: Request) -> Response:
    await require_user(request)
    row = await _evidence(request)
    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=31536000, immutable"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    path = ctx(request).recorders.store.path(row.blob)
    if path is None or not path.exists():
        raise ApiError(410, "gone", "the image file of this evidence item is missing from the store")
    return FileResponse(
        path, media_type=IMAGE_TYPES.get(path.suffix, "application/octet-stream"), headers=headers
    )


async def create_capture(request: Request) -> Response:
    user = await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
    body = await read_json(request)
    checkpoint = text_field(body, "checkpoint", limit=100)
    key = evidence_repo.idempotency_key(f"user:{user.id}", idempotency_key(request))
    if (done := await stored_evidence(ctx(request).db, audit.id, key)) is not None:
        return JSONResponse(evidence_json(done), status_code=201)
    recorder = ctx(request).recorders.by_audit.get(audit.id)
    if recorder is None:
        raise ApiError(409, "not_live", "the facility camera is not live")
    try:
        row, new = await recorder.capture(checkpoint, f"user:{user.id}", key)
    except CaptureError as exc:
        raise ApiError(409, "capture_failed", str(exc)) from exc
    if not new:
        return JSONResponse(evidence_json(row), status_code=201)
    async with ctx(request).db.session() as s:
        await repo.record_event(
            s, audit.id, "capture", f"user:{user.id}", {"evidence": row.id, "sha256": row.sha256}
        )
    return JSONResponse(evidence_json(row), status_code=201)


async def recording(request: Request) -> Response:
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
    async with ctx(request).db.session() as s:
        rows = await evidence_repo.list_segments(s, audit.id)
    recorder = ctx(request).recorders.by_audit.get(audit.id)
    live: dict[str, Any] | None = None
    if recorder is not None:
        w = recorder.writer
        live = recorder.stats | {
            "frames_written": w.written,
            "frames_dropped": w.dropped,
            "pending": w.pending,
        }
    return JSONResponse({"segments": [segment_json(r) for r in rows], "live": live})


async def segment_file(request: Request) -> Response:
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
    seq = request.path_params["seq"]
    async with ctx(request).db.session() as s:
        row = await evidence_repo.get_segment(s, audit.id, seq)
    if row is None:
        raise ApiError(404, "not_found", "no such closed segment")
    index = request.url.path.endswith("/index")
    blob = row.index_blob if index else row.blob
    path = ctx(request).recorders.store.path(blob)
    if path is None or not path.exists():
        raise ApiError(410, "gone", "the segment file is missing from the store")
    media = (
        "application/x-ndjson" if index else ("video/webm" if blob.endswith(".webm") else "video/x-matroska")
    )
    digest = row.index_sha256 if index else row.sha256
    return FileResponse(path, media_type=media, filename=path.name, headers={"ETag": f'"{digest}"'})


routes = [
    Route("/api/audits/{audit_id}/evidence", list_evidence, methods=["GET"]),
    Route("/api/audits/{audit_id}/captures", create_capture, methods=["POST"]),
    Route("/api/audits/{audit_id}/recording", recording, methods=["GET"]),
    Route("/api/audits/{audit_id}/recording/{seq:int}", segment_file, methods=["GET"]),
    Route("/api/audits/{audit_id}/recording/{seq:int}/index", segment_file, methods=["GET"]),
    Route("/api/evidence/{evidence_id}", get_evidence, methods=["GET"]),
    Route("/api/evidence/{evidence_id}/image", evidence_image, methods=["GET"]),
]
