"""The export package over HTTP: GET /api/audits/{id}/export."""

from __future__ import annotations

import uuid

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from server.access import AccessAction, granted, log_access
from server.context import ctx
from server.errors import ApiError
from server.export import ExportError, build_export
from server.policy import Action


async def export(request: Request) -> Response:
    """The audit's self-contained, verifiable package (a zip)."""
    g = await granted(request, Action.VIEW_EVIDENCE)
    audit = g.audit
    app = ctx(request)
    tmp = app.settings.scratch_dir
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / f"export-{uuid.uuid4()}.zip"
    try:
        await build_export(app.db, app.recorders.store, app.signer, app.templates, audit.id, out)
    except ExportError as exc:
        out.unlink(missing_ok=True)
        raise ApiError(409, "export_failed", str(exc)) from exc
    await log_access(request, g, AccessAction.EXPORT, "export package")
    name = f"virtual-audit-{audit.id}.zip"
    return FileResponse(
        out,
        media_type="application/zip",
        filename=name,
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


routes = [Route("/api/audits/{audit_id}/export", export, methods=["GET"])]
