"""Evidence and recording: /api/audits/{id}/evidence, /api/evidence/..., captures, segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.access import AccessAction, granted, granted_evidence, log_access
from server.api.common import idempotency_key, read_json, stored_file, text_field
from server.context import ctx
from server.db import evidence_repo
from server.errors import ApiError
from server.evidence_service import capture_evidence
from server.params import path_int, query_int
from server.policy import Action
from server.views import evidence_json, segment_json

KINDS = ("still", "capture", "photo")
MAX_PAGE = 500


def _time_param(request: Request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, "invalid", f"'{name}' must be an ISO 8601 time") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def list_evidence(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW_EVIDENCE)).audit
    kind = request.query_params.get("kind")
    if kind is not None and kind not in KINDS:
        raise ApiError(400, "invalid", f"'kind' must be one of {', '.join(KINDS)}")
    limit = max(1, query_int(request, "limit", 100, 0, MAX_PAGE))
    cursor = query_int(request, "cursor", 0, 0, 2**31)
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


async def get_evidence(request: Request) -> Response:
    _, row = await granted_evidence(request, Action.VIEW_EVIDENCE)
    return JSONResponse(evidence_json(row))


async def evidence_image(request: Request) -> Response:
    g, row = await granted_evidence(request, Action.VIEW_EVIDENCE)
    await log_access(request, g, AccessAction.VIEW_IMAGE, f"{row.kind} #{row.seq} ({row.id})")
    return stored_file(
        request, row.blob, row.sha256, "the image file of this evidence item is missing from the store"
    )


async def create_capture(request: Request) -> Response:
    g = await granted(request, Action.RUN)
    body = await read_json(request)
    checkpoint = text_field(body, "checkpoint", limit=100)
    camera = body.get("camera")
    if camera is not None and (
        isinstance(camera, bool) or not isinstance(camera, int) or not 1 <= camera <= 9
    ):
        raise ApiError(400, "invalid", "'camera' must be a camera number from 1 to 9")
    key = evidence_repo.idempotency_key(g.actor.label(), idempotency_key(request))
    actor = g.actor.label()
    row = await capture_evidence(ctx(request), g.audit.id, checkpoint, actor, key=key, camera=camera)
    return JSONResponse(evidence_json(row), status_code=201)


async def recording(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW_EVIDENCE)).audit
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
    g = await granted(request, Action.VIEW_EVIDENCE)
    seq = path_int(request, "seq", "closed segment")
    async with ctx(request).db.session() as s:
        row = await evidence_repo.get_segment(s, g.audit.id, seq)
    if row is None:
        raise ApiError(404, "not_found", "no such closed segment")
    index = request.url.path.endswith("/index")
    what = f"segment {row.seq}" + (" index" if index else "")
    await log_access(request, g, AccessAction.VIEW_RECORDING, what)
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
    Route("/api/audits/{audit_id}/recording/{seq}", segment_file, methods=["GET"]),
    Route("/api/audits/{audit_id}/recording/{seq}/index", segment_file, methods=["GET"]),
    Route("/api/evidence/{evidence_id}", get_evidence, methods=["GET"]),
    Route("/api/evidence/{evidence_id}/image", evidence_image, methods=["GET"]),
]
