"""Annotations on stills (a separate layer: the still's bytes never change) and audit side data."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.access import granted, granted_evidence
from server.api.common import read_json
from server.context import ctx
from server.db import repo, walkthrough_repo
from server.errors import ApiError
from server.policy import Action
from server.views import iso

SHAPES = ("arrow", "circle", "rect", "text")
MAX_SHAPES = 200
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def parse_shape(raw: Any, n: int) -> dict[str, Any]:
    """One drawn shape in coordinates relative to the picture (0..1)."""
    if not isinstance(raw, dict) or raw.get("type") not in SHAPES:
        raise ApiError(422, "invalid", f"shape {n}: 'type' must be one of {', '.join(SHAPES)}")
    shape: dict[str, Any] = {"type": raw["type"]}
    names = {
        "arrow": ("x1", "y1", "x2", "y2"),
        "rect": ("x1", "y1", "x2", "y2"),
        "circle": ("x", "y", "r"),
        "text": ("x", "y"),
    }
    for name in names[raw["type"]]:
        value = raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ApiError(422, "invalid", f"shape {n}: '{name}' must be a number from 0 to 1")
        shape[name] = float(value)
    if raw["type"] == "text":
        text = raw.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= 500:
            raise ApiError(422, "invalid", f"shape {n}: 'text' must be 1 to 500 characters")
        shape["text"] = text
    color = raw.get("color", "#ff3b30")
    if not isinstance(color, str) or not COLOR.match(color):
        raise ApiError(422, "invalid", f"shape {n}: 'color' must look like #ff3b30")
    shape["color"] = color
    return shape


async def add_annotation(request: Request) -> Response:
    g, row = await granted_evidence(request, Action.RUN)
    body = await read_json(request)
    raw = body.get("shapes")
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_SHAPES:
        raise ApiError(422, "invalid", f"'shapes' must be a list of 1 to {MAX_SHAPES} shapes")
    shapes = [parse_shape(item, i) for i, item in enumerate(raw)]
    actor = g.actor.label()
    async with ctx(request).db.session() as s:
        note = await walkthrough_repo.add_annotation(
            s, evidence_id=row.id, audit_id=row.audit_id, shapes=shapes, created_by=actor
        )
        await repo.record_event(
            s, row.audit_id, "annotation", actor, {"evidence": row.id, "annotation": note.id}
        )
    return JSONResponse(
        {"id": note.id, "evidence_id": row.id, "shapes": shapes, "created_at": iso(note.created_at)},
        status_code=201,
    )


async def list_annotations(request: Request) -> Response:
    _, row = await granted_evidence(request, Action.VIEW_EVIDENCE)
    async with ctx(request).db.session() as s:
        notes = await walkthrough_repo.list_annotations(s, row.id)
    return JSONResponse(
        {
            "items": [
                {"id": n.id, "shapes": n.shapes, "created_by": n.created_by, "created_at": iso(n.created_at)}
                for n in notes
            ]
        }
    )


async def tech_checks(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW)).audit
    async with ctx(request).db.session() as s:
        rows = await walkthrough_repo.tech_checks(s, audit.id)
    return JSONResponse(
        {"items": [{"id": r.id, "created_at": iso(r.created_at), "results": r.results} for r in rows]}
    )


async def consents(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW)).audit
    async with ctx(request).db.session() as s:
        rows = await walkthrough_repo.consents(s, audit.id)
    return JSONResponse(
        {
            "items": [
                {
                    "actor": r.actor,
                    "role": r.role,
                    "accepted_at": iso(r.accepted_at),
                    "notice_sha256": r.notice_sha256,
                    "language": r.language,
                    "device_id": r.device_id,
                    "location": r.location,
                }
                for r in rows
            ]
        }
    )


routes = [
    Route("/api/evidence/{evidence_id}/annotations", add_annotation, methods=["POST"]),
    Route("/api/evidence/{evidence_id}/annotations", list_annotations, methods=["GET"]),
    Route("/api/audits/{audit_id}/tech-checks", tech_checks, methods=["GET"]),
    Route("/api/audits/{audit_id}/consents", consents, methods=["GET"]),
]
