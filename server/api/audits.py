"""Audits and staff invites: /api/audits..."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import facilities, invite_links
from server.access import granted, require, require_actor
from server.api.common import read_json, text_field
from server.context import ctx
from server.db import access_repo, facility_repo, repo
from server.db.models import Audit, Invite, utcnow
from server.errors import ApiError
from server.policy import Action, Actor
from server.views import audit_json, iso
from server.walkthrough import DEFAULT_TEMPLATE, resolve_template


@dataclass(frozen=True)
class NewAudit:
    """What ``POST /api/audits`` (and the audits page's form) created, and the facility's certificate."""

    audit: Audit
    facility_certificate: dict[str, Any] | None  # the facility's certificate in force, if any


async def create_from(request: Request, actor: Actor, body: dict[str, Any]) -> NewAudit:
    """Create an audit of the facility the body names (``facility_id`` or an inline ``facility``)."""
    title = text_field(body, "title", limit=300)
    template = await resolve_template(
        ctx(request), text_field(body, "template", limit=64) or DEFAULT_TEMPLATE
    )
    async with ctx(request).db.session() as s:
        facility = await facilities.for_new_audit(s, body, actor)
        certified = (await facility_repo.certificates_of(s, [facility.id])).get(facility.id)
        audit = await repo.create_audit(
            s,
            actor,
            title=title,
            facility=facility,
            template_key=template.key,
            template_snapshot=template.to_dict(),
        )
    return NewAudit(audit, facilities.valid_certificate(certified))


async def create_audit(request: Request) -> Response:
    actor = await require(request, Action.CREATE_AUDIT)
    made = await create_from(request, actor, await read_json(request))
    data = audit_json(made.audit) | {"facility_certificate": made.facility_certificate}
    return JSONResponse(data, status_code=201, headers={"Location": f"/api/audits/{made.audit.id}"})


async def list_audits(request: Request) -> Response:
    actor = await require_actor(request)
    async with ctx(request).db.session() as s:
        audits = await repo.list_audits(s, actor)
    return JSONResponse({"items": [audit_json(a) for a in audits]})


async def get_audit(request: Request) -> Response:
    g = await granted(request, Action.VIEW)
    audit = g.audit
    data = audit_json(audit)
    async with ctx(request).db.session() as s:
        assigned = await access_repo.assignments(s, audit.id)
    data["assigned"] = [{"id": u.id, "name": u.name} for u in assigned]
    room = ctx(request).hub.rooms.get(audit.id)
    data["live"] = {
        "media": room.media_state if room else "waiting",
        "participants": [p.public() for p in room.participants.values()] if room else [],
    }
    return JSONResponse(data)


def join_url(request: Request, token: str) -> str:
    return invite_links.join_url(ctx(request).invite_base, token)


def invite_json(invite: Invite) -> dict[str, Any]:
    return {
        "id": invite.id,
        "label": invite.label,
        "created_at": iso(invite.created_at),
        "expires_at": iso(invite.expires_at),
        "revoked": invite.revoked_at is not None,
        "expired": invite.expires_at <= utcnow(),
    }


async def create_invite(request: Request) -> Response:
    g = await granted(request, Action.RUN)
    audit = g.audit
    body = await read_json(request)
    settings = ctx(request).settings
    label = text_field(body, "label", limit=200)
    ttl = body.get("ttl_minutes", settings.invite_ttl_minutes)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= settings.max_invite_ttl_minutes:
        raise ApiError(
            422,
            "invalid",
            f"'ttl_minutes' must be a whole number from 1 to {settings.max_invite_ttl_minutes}",
        )
    async with ctx(request).db.session() as s:
        invite, token = await repo.create_invite(
            s, audit, g.actor, label=label, ttl=dt.timedelta(minutes=ttl)
        )
    url = join_url(request, token)
    data = invite_json(invite) | {"token": token, "url": url, "qr_svg": qr_svg(url)}
    return JSONResponse(data, status_code=201)


def qr_svg(url: str) -> str:
    return str(segno.make(url, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff"))


async def list_invites(request: Request) -> Response:
    audit = (await granted(request, Action.WATCH)).audit
    async with ctx(request).db.session() as s:
        invites = await repo.list_invites(s, audit.id)
    return JSONResponse({"items": [invite_json(i) for i in invites]})


async def revoke_invite(request: Request) -> Response:
    audit = (await granted(request, Action.RUN)).audit
    async with ctx(request).db.session() as s:
        invite = await repo.revoke_invite(s, audit.id, request.path_params["invite_id"])
    if invite is None:
        raise ApiError(404, "not_found", "no such invite for this audit")
    await ctx(request).sockets.close_invite(invite.id, "this invite was revoked by the auditor")
    return JSONResponse(invite_json(invite))


routes = [
    Route("/api/audits", create_audit, methods=["POST"]),
    Route("/api/audits", list_audits, methods=["GET"]),
    Route("/api/audits/{audit_id}", get_audit, methods=["GET"]),
    Route("/api/audits/{audit_id}/invites", create_invite, methods=["POST"]),
    Route("/api/audits/{audit_id}/invites", list_invites, methods=["GET"]),
    Route("/api/audits/{audit_id}/invites/{invite_id}", revoke_invite, methods=["DELETE"]),
]
