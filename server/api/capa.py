"""Corrective actions of a completed audit: the facility's link, its responses, the firm's decisions.

The facility answers with the token of its link in the path (``/api/capa/{token}/...``):
no account, scoped to one audit, valid until revoked. Everything else goes through the
access policy like any audit route (docs/operations.md, "Corrective actions").
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import capa, capa_links, capa_video, certificates
from server.access import AccessAction, granted, granted_link, log_access, log_link_access
from server.api.common import read_json, stored_file
from server.api.staff import MAX_PHOTO_BYTES
from server.context import ctx
from server.db.models import CorrectiveActionEntry
from server.errors import ApiError
from server.pages import capa_photo_url
from server.params import declared_length
from server.policy import Action


async def create_link(request: Request) -> Response:
    g = await granted(request, Action.CAPA_LINK)
    if not g.facts.completed:
        raise ApiError(409, "not_completed", "corrective actions follow a completed audit")
    app = ctx(request)
    link, token = await capa_links.create_link(app, g.audit, g.actor.user_id)
    return JSONResponse(
        {"id": link.id, "token": token, "url": capa_links.link_url(app, token)}, status_code=201
    )


async def revoke_links(request: Request) -> Response:
    g = await granted(request, Action.CAPA_LINK)
    return JSONResponse({"revoked": await capa_links.revoke_links(ctx(request), g.audit.id)})


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


async def _response_file(request: Request, audit_id: str, video: bool) -> tuple[str, Response]:
    """The file of the facility's response named by the path (in this audit, under the path's
    action): its photo, or its ``video``; with a description for the access log. 404 if none."""
    what = "video" if video else "photo"
    entry_id = str(request.path_params["entry_id"])
    async with ctx(request).db.session() as s:
        entry = await s.get(CorrectiveActionEntry, entry_id) if len(entry_id) <= 64 else None
    blob, sha256 = (None, None) if entry is None else entry.file(video)
    if (
        entry is None
        or blob is None
        or entry.audit_id != audit_id
        or entry.kind != "response"
        or entry.action_id != request.path_params["action_id"]
    ):
        raise ApiError(404, "not_found", f"no such {what}")
    served = stored_file(request, blob, sha256, f"the {what} is missing from the store")
    return f"corrective-action {what} ({entry.id})", served


def _access_action(video: bool) -> str:
    return AccessAction.VIEW_RECORDING if video else AccessAction.VIEW_IMAGE


async def _member_file(request: Request, video: bool) -> Response:
    g = await granted(request, Action.VIEW_EVIDENCE)
    described, served = await _response_file(request, g.audit.id, video)
    await log_access(request, g, _access_action(video), described)
    return served


async def _link_file(request: Request, video: bool) -> Response:
    g = await granted_link(request, Action.CAPA_ANSWER)
    described, served = await _response_file(request, g.audit.id, video)
    await log_link_access(request, g, _access_action(video), described)
    return served


async def response_photo(request: Request) -> Response:
    return await _member_file(request, video=False)


async def response_video(request: Request) -> Response:
    return await _member_file(request, video=True)


async def link_response_photo(request: Request) -> Response:
    """The facility reads back a photo of its own responses (through its link)."""
    return await _link_file(request, video=False)


async def link_response_video(request: Request) -> Response:
    """The facility plays back a video of its own responses (through its link)."""
    return await _link_file(request, video=True)


async def link_original(request: Request) -> Response:
    """The finding's original capture (the checkpoint's last capture or photo), for the phone's
    re-capture overlay: the facility took it itself during the audit."""
    g = await granted_link(request, Action.CAPA_ANSWER)
    async with ctx(request).db.session() as s:
        original = await capa_links.original_capture(s, g.audit.id, str(request.path_params["action_id"]))
    if original is None:
        raise ApiError(404, "not_found", "this corrective action has no original capture")
    await log_link_access(request, g, AccessAction.VIEW_IMAGE, f"original capture ({original.id})")
    return stored_file(request, original.blob, original.sha256, "the picture is missing from the store")


def _too_large_photo() -> ApiError:
    return ApiError(413, "too_large", f"photos are limited to {MAX_PHOTO_BYTES // (1024 * 1024)} MB")


async def _read(upload: object, limit: int, too_large: ApiError) -> bytes | None:
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    return data or None


async def respond(request: Request) -> Response:
    """The facility's response to one action: multipart ``text``, an optional photo ``file``
    and an optional short ``video``."""
    app = ctx(request)
    g = await granted_link(request, Action.CAPA_ANSWER)
    link, audit = g.link, g.audit
    app.photos.admit(f"capa:{link.id}")
    declared = declared_length(request)
    if declared is not None and declared > MAX_PHOTO_BYTES + capa_video.MAX_BYTES + 64 * 1024:
        raise ApiError(
            413,
            "too_large",
            f"a response may carry a photo of at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB "
            f"and a video of at most {capa_video.MAX_BYTES // (1024 * 1024)} MB",
        )
    part_limit = max(MAX_PHOTO_BYTES, capa_video.MAX_BYTES) + 1
    async with request.form(max_files=2, max_fields=5, max_part_size=part_limit) as form:
        text = capa.clean_text(form.get("text"), "text", required=True)
        photo = await _read(form.get("file"), MAX_PHOTO_BYTES, _too_large_photo())
        video = await _read(form.get("video"), capa_video.MAX_BYTES, capa_video.too_large())
    item = await capa.respond(app, link, audit, str(request.path_params["action_id"]), text, photo, video)
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
    Route(
        "/api/audits/{audit_id}/actions/{action_id}/responses/{entry_id}/video",
        response_video,
        methods=["GET"],
    ),
    Route("/api/capa/{token}/actions/{action_id}/responses", respond, methods=["POST"]),
    Route(
        "/api/capa/{token}/actions/{action_id}/responses/{entry_id}/photo",
        link_response_photo,
        methods=["GET"],
    ),
    Route(
        "/api/capa/{token}/actions/{action_id}/responses/{entry_id}/video",
        link_response_video,
        methods=["GET"],
    ),
    Route("/api/capa/{token}/actions/{action_id}/original", link_original, methods=["GET"]),
]
