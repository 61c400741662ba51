"""Corrective actions of a completed audit: the facility's link, its responses, the firm's decisions.

The facility answers with the token of its link in the path (``/api/capa/{token}/...``):
no account, scoped to one audit, valid until revoked. Everything else goes through the
access policy like any audit route (docs/operations.md, "Corrective actions").
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server import capa, certificates
from server.access import AccessAction, granted, log_access
from server.api.common import read_json
from server.api.staff import MAX_PHOTO_BYTES
from server.context import ctx
from server.db.models import CorrectiveActionEntry
from server.errors import ApiError
from server.pages import capa_photo_url
from server.params import declared_length
from server.policy import Action

IMAGE_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


async def create_link(request: Request) -> Response:
    g = await granted(request, Action.CAPA_LINK)
    if not g.facts.completed:
        raise ApiError(409, "not_completed", "corrective actions follow a completed audit")
    app = ctx(request)
    link, token = await capa.create_link(app, g.audit, g.actor.user_id)
    return JSONResponse({"id": link.id, "token": token, "url": capa.link_url(app, token)}, status_code=201)


async def revoke_links(request: Request) -> Response:
    g = await granted(request, Action.CAPA_LINK)
    return JSONResponse({"revoked": await capa.revoke_links(ctx(request), g.audit.id)})


async def list_actions(request: Request) -> Response:
    g = await granted(request, Action.VIEW)
    return JSONResponse({"items": await capa.list_json(ctx(request), g.audit.id, capa_photo_url(g.audit.id))})


async def decide(request: Request) -> Response:
    g = await granted(request, Action.DECIDE_CAPA)
    body = await read_json(request)
    decision = body.get("decision")
    if decision not in capa.DECISIONS:
        raise ApiError(422, "invalid", "'decision' must be 'accept' or 'reject'")
    comment = capa.clean_text(body.get("comment"), "comment", required=decision == "reject")
    app = ctx(request)
    action_id = str(request.path_params["action_id"])
    item, all_closed = await capa.decide(
        app, g.audit, action_id, str(decision), comment, g.actor.label(), g.actor.name
    )
    result: dict[str, Any] = {"decision": item, "all_accepted": all_closed, "certificate": None}
    if all_closed:
        cert = await certificates.reevaluate(app, g.audit.id)
        if cert is not None:
            doc = certificates.document_of(cert)
            result["certificate"] = {"id": cert.id, "expires": doc["expires"], "extends": doc.get("extends")}
    return JSONResponse(result, status_code=201)


async def response_photo(request: Request) -> Response:
    g = await granted(request, Action.VIEW_EVIDENCE)
    entry_id = str(request.path_params["entry_id"])
    async with ctx(request).db.session() as s:
        entry = await s.get(CorrectiveActionEntry, entry_id) if len(entry_id) <= 64 else None
    if entry is None or entry.audit_id != g.audit.id or entry.blob is None:
        raise ApiError(404, "not_found", "no such photo")
    if entry.action_id != request.path_params["action_id"]:
        raise ApiError(404, "not_found", "no such photo")
    await log_access(request, g, AccessAction.VIEW_IMAGE, f"corrective-action photo ({entry.id})")
    path = ctx(request).recorders.store.path(entry.blob)
    if path is None or not path.exists():
        raise ApiError(410, "gone", "the photo is missing from the store")
    suffix = path.suffix.lower()
    headers = {"ETag": f'"{entry.sha256}"', "Cache-Control": "private, max-age=31536000, immutable"}
    return FileResponse(path, media_type=IMAGE_TYPES.get(suffix, "application/octet-stream"), headers=headers)


async def respond(request: Request) -> Response:
    """The facility's response to one action: multipart ``text`` and an optional ``file``."""
    app = ctx(request)
    link, audit = await capa.valid_link(app, str(request.path_params["token"]))
    app.photos.admit(f"capa:{link.id}")
    declared = declared_length(request)
    if declared is not None and declared > MAX_PHOTO_BYTES + 64 * 1024:
        raise ApiError(413, "too_large", f"photos are limited to {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    async with request.form(max_files=1, max_fields=5, max_part_size=MAX_PHOTO_BYTES + 1) as form:
        text = capa.clean_text(form.get("text"), "text", required=True)
        upload = form.get("file")
        data: bytes | None = None
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(MAX_PHOTO_BYTES + 1)
            if len(data) > MAX_PHOTO_BYTES:
                raise ApiError(
                    413, "too_large", f"photos are limited to {MAX_PHOTO_BYTES // (1024 * 1024)} MB"
                )
            data = data or None
    item = await capa.respond(app, link, audit, str(request.path_params["action_id"]), text, data)
    return JSONResponse(item, status_code=201)


routes = [
    Route("/api/audits/{audit_id}/capa-link", create_link, methods=["POST"]),
    Route("/api/audits/{audit_id}/capa-link", revoke_links, methods=["DELETE"]),
    Route("/api/audits/{audit_id}/actions", list_actions, methods=["GET"]),
    Route("/api/audits/{audit_id}/actions/{action_id}/decision", decide, methods=["POST"]),
    Route(
        "/api/audits/{audit_id}/actions/{action_id}/responses/{entry_id}/photo",
        response_photo,
        methods=["GET"],
    ),
    Route("/api/capa/{token}/actions/{action_id}/responses", respond, methods=["POST"]),
]
