"""The guided walkthrough API: templates, checkpoints, results, completion."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import completion, walkthrough
from server.access import granted, require, require_actor
from server.api.common import json_object, read_json
from server.checklists import MAX_TEMPLATE_BYTES, Template, TemplateError, builtin_templates, load_template
from server.context import ctx
from server.db import walkthrough_repo
from server.errors import ApiError
from server.policy import Action
from server.views import iso


def template_summary(t: Template, source: str) -> dict[str, Any]:
    cps = t.checkpoints()
    return {
        "key": t.key,
        "version": t.version,
        "title": t.title,
        "description": t.description,
        "languages": list(t.languages),
        "source": source,
        "checkpoints": len(cps),
        "must": sum(1 for c in cps if c.level == "must"),
    }


async def list_templates(request: Request) -> Response:
    await require_actor(request)
    items = [
        template_summary(t, src) for t, src in (await walkthrough.available_templates(ctx(request))).values()
    ]
    return JSONResponse({"items": sorted(items, key=lambda i: i["key"])})


async def get_template(request: Request) -> Response:
    await require_actor(request)
    found = (await walkthrough.available_templates(ctx(request))).get(request.path_params["key"])
    if found is None:
        raise ApiError(404, "not_found", "no such template")
    return JSONResponse(found[0].to_dict() | {"source": found[1]})


async def upload_template(request: Request) -> Response:
    """Upload a template as YAML (raw body or a JSON {"yaml": ...}); every problem is listed."""
    actor = await require(request, Action.MANAGE_TEMPLATES)
    raw = await _body(request)
    try:
        template = await asyncio.to_thread(load_template, raw, "<upload>")
    except TemplateError as exc:
        problems = [{"line": p.line, "message": p.message} for p in exc.problems]
        return JSONResponse(
            {"error": {"code": "invalid_template", "message": str(exc), "problems": problems}},
            status_code=422,
        )
    if template.key in builtin_templates():
        raise ApiError(409, "conflict", f"{template.key!r} is a built-in template; choose another key")
    async with ctx(request).db.session() as s:
        existing = await walkthrough_repo.latest_custom_template(s, template.key)
        if existing is not None and existing.version >= template.version:
            raise ApiError(
                409, "conflict", f"version {template.version} is not newer than {existing.version}"
            )
        await walkthrough_repo.add_custom_template(
            s,
            key=template.key,
            version=template.version,
            title=template.title,
            source=raw,
            created_by=actor.user_id,
        )
    return JSONResponse(template_summary(template, "custom"), status_code=201)


async def _body(request: Request) -> str:
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_TEMPLATE_BYTES:
            raise ApiError(413, "too_large", f"template over {MAX_TEMPLATE_BYTES} bytes")
    if request.headers.get("content-type", "").startswith("application/json"):
        obj = json_object(data).get("yaml")
        if not isinstance(obj, str):
            raise ApiError(422, "invalid", 'send the template as YAML, or JSON {"yaml": "..."}')
        return obj
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, "invalid", "the template must be UTF-8 text") from exc


async def checkpoints(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW)).audit
    return JSONResponse(await walkthrough.checkpoints_view(ctx(request).db, audit))


async def set_current(request: Request) -> Response:
    g = await granted(request, Action.RUN)
    body = await read_json(request)
    key = body.get("key")
    if key is not None and not isinstance(key, str):
        raise ApiError(422, "invalid", "'key' must be a checkpoint key or null")
    await walkthrough.goto(ctx(request), g.audit, key, g.actor.label())
    return JSONResponse({"current": key})


async def set_result(request: Request) -> Response:
    g = await granted(request, Action.RUN)
    row = await walkthrough.record_result(
        ctx(request), g.audit, request.path_params["key"], await read_json(request), g.actor.label()
    )
    return JSONResponse(
        {
            "key": row.checkpoint_key,
            "result": row.result,
            "note": row.note,
            "corrective_action": row.corrective_action,
            "due_date": row.due_date.isoformat() if row.due_date else None,
            "updated_at": iso(row.updated_at),
        }
    )


async def complete(request: Request) -> Response:
    g = await granted(request, Action.RUN)
    parsed = completion.parse_request(await read_json(request))
    return JSONResponse(await completion.complete(ctx(request), g.audit, parsed, g.actor.label()))


async def completion_preview(request: Request) -> Response:
    """What completing now asks: open checkpoints to confirm, reasons to write."""
    g = await granted(request, Action.RUN)
    return JSONResponse(await completion.preview(ctx(request), g.audit))


async def outcome(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW)).audit
    if audit.outcome is None:
        raise ApiError(409, "not_completed", "the audit is not completed yet")
    return JSONResponse(audit.outcome)


def notice_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


routes = [
    Route("/api/templates", list_templates, methods=["GET"]),
    Route("/api/templates", upload_template, methods=["POST"]),
    Route("/api/templates/{key}", get_template, methods=["GET"]),
    Route("/api/audits/{audit_id}/checkpoints", checkpoints, methods=["GET"]),
    Route("/api/audits/{audit_id}/current", set_current, methods=["PUT", "POST"]),
    Route("/api/audits/{audit_id}/checkpoints/{key}", set_result, methods=["PUT"]),
    Route("/api/audits/{audit_id}/complete", complete, methods=["POST"]),
    Route("/api/audits/{audit_id}/complete", completion_preview, methods=["GET"]),
    Route("/api/audits/{audit_id}/outcome", outcome, methods=["GET"]),
]
