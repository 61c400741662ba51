"""Replay over HTTP: the manifest the player needs and playable segments."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.access import AccessAction, granted, log_access
from server.context import ctx
from server.db import evidence_repo
from server.errors import ApiError
from server.params import path_int
from server.policy import Action
from server.replay import playable_segment, replay_manifest


async def replay(request: Request) -> Response:
    g = await granted(request, Action.VIEW_EVIDENCE)
    await log_access(request, g, AccessAction.REPLAY, "replay")
    return JSONResponse(await replay_manifest(ctx(request).db, g.audit.id))


async def replay_segment(request: Request) -> Response:
    g = await granted(request, Action.VIEW_EVIDENCE)
    seq = path_int(request, "seq", "segment")
    app = ctx(request)
    async with app.db.session() as s:
        row = await evidence_repo.get_segment(s, g.audit.id, seq)
    if row is None:
        raise ApiError(404, "not_found", "no such segment")
    await log_access(request, g, AccessAction.VIEW_RECORDING, f"segment {row.seq} (replay)")
    try:
        path, media = await playable_segment(app.recorders.store, row)
    except FileNotFoundError as exc:
        raise ApiError(410, "gone", "the segment file is missing from the store") from exc
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


routes = [
    Route("/api/audits/{audit_id}/replay", replay, methods=["GET"]),
    Route("/api/audits/{audit_id}/replay/segments/{seq:int}", replay_segment, methods=["GET"]),
]
