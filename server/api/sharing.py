"""Sharing, assignments and the access log of one audit."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.access import AccessAction, client_address, granted
from server.api.common import read_json
from server.context import ctx
from server.db import access_repo, org_repo, repo
from server.db.models import AccessRecord, Organisation, Share
from server.errors import ApiError
from server.params import query_int
from server.policy import Action, OrgKind, Role
from server.views import iso


def share_json(share: Share, org: Organisation) -> dict[str, Any]:
    return {
        "org": {"id": org.id, "name": org.name, "kind": org.kind},
        "created_at": iso(share.created_at),
        "created_by": share.created_by,
    }


def _org_ref(body: dict[str, Any]) -> str:
    value = body.get("org")
    if not isinstance(value, str) or not value.strip() or len(value) > 300:
        raise ApiError(422, "invalid", "'org' must be the id of a member organisation")
    return value.strip()


async def list_shares(request: Request) -> Response:
    audit = (await granted(request, Action.SHARE)).audit
    async with ctx(request).db.session() as s:
        rows = await access_repo.shares(s, audit.id)
    return JSONResponse({"items": [share_json(sh, o) for sh, o in rows]})


async def create_share(request: Request) -> Response:
    g = await granted(request, Action.SHARE)
    if not g.facts.completed:
        raise ApiError(409, "not_completed", "only a completed audit can be shared")
    org_id = _org_ref(await read_json(request))
    async with ctx(request).db.session() as s:
        org = await org_repo.get_org(s, org_id)
        if org is None or org.kind != OrgKind.MEMBER.value:
            raise ApiError(422, "invalid", "'org' must be the id of a member organisation")
        share, new = await access_repo.add_share(s, g.audit.id, org.id, g.actor)
        if new:
            s.add(
                access_repo.access_record(
                    g.actor, g.audit.id, AccessAction.SHARE, org.name, client_address(request)
                )
            )
        await s.commit()
    if new:
        await ctx(request).repository.record_share(g.audit.id, org.id, g.actor.label(), shared=True)
    return JSONResponse(share_json(share, org), status_code=201 if new else 200)


async def delete_share(request: Request) -> Response:
    g = await granted(request, Action.SHARE)
    org_id = str(request.path_params["org_id"])
    async with ctx(request).db.session() as s:
        org = await org_repo.get_org(s, org_id)
        removed = org is not None and await access_repo.remove_share(s, g.audit.id, org_id)
        if not removed or org is None:
            raise ApiError(404, "not_found", "this audit is not shared with that organisation")
        s.add(
            access_repo.access_record(
                g.actor, g.audit.id, AccessAction.UNSHARE, org.name, client_address(request)
            )
        )
        await s.commit()
    await ctx(request).repository.record_share(g.audit.id, org_id, g.actor.label(), shared=False)
    return Response(status_code=204)


async def assign(request: Request) -> Response:
    """Add an auditor of the audit's firm to the people who run it."""
    g = await granted(request, Action.ASSIGN)
    if g.facts.completed:
        raise ApiError(409, "audit_completed", "the audit is completed and sealed")
    body = await read_json(request)
    user_id = body.get("user")
    if not isinstance(user_id, str) or len(user_id) > 64:
        raise ApiError(422, "invalid", "'user' must be the id of an auditor of the audit's firm")
    async with ctx(request).db.session() as s:
        target = await org_repo.actor_for_user(s, user_id)
        if target is None or target.org_id != g.audit.firm_id or target.role is not Role.AUDITOR:
            raise ApiError(422, "invalid", "'user' must be the id of an auditor of the audit's firm")
        await access_repo.assign(s, g.audit.id, target.user_id, g.actor)
        await repo.record_event(s, g.audit.id, "assign", g.actor.label(), {"user": target.user_id})
    return JSONResponse({"user": {"id": target.user_id, "name": target.name}}, status_code=201)


async def unassign(request: Request) -> Response:
    g = await granted(request, Action.ASSIGN)
    if g.facts.completed:
        raise ApiError(409, "audit_completed", "the audit is completed and sealed")
    user_id = str(request.path_params["user_id"])
    async with ctx(request).db.session() as s:
        if not await access_repo.unassign(s, g.audit.id, user_id):
            raise ApiError(404, "not_found", "that user is not assigned to this audit")
        await repo.record_event(s, g.audit.id, "unassign", g.actor.label(), {"user": user_id})
    await ctx(request).sockets.close_user_in_audit(user_id, g.audit.id, "you were removed from this audit")
    return Response(status_code=204)


def access_json(row: AccessRecord) -> dict[str, Any]:
    return {
        "at": iso(row.at),
        "user": {"id": row.user_id, "name": row.user_name, "email": row.user_email},
        "org": {"id": row.org_id, "name": row.org_name, "kind": row.org_kind},
        "role": row.role,
        "action": row.action,
        "target": row.target,
        "address": row.address,
    }


async def access_log(request: Request) -> Response:
    """Who read this audit's evidence or shared it, newest first."""
    audit = (await granted(request, Action.VIEW_ACCESS_LOG)).audit
    cursor = query_int(request, "cursor", 0, 0, 2**62)
    async with ctx(request).db.session() as s:
        rows = await access_repo.access_log(s, audit.id, cursor, access_repo.PAGE + 1)
    more = len(rows) > access_repo.PAGE
    rows = rows[: access_repo.PAGE]
    return JSONResponse({"items": [access_json(r) for r in rows], "next": str(rows[-1].id) if more else None})


routes = [
    Route("/api/audits/{audit_id}/shares", list_shares, methods=["GET"]),
    Route("/api/audits/{audit_id}/shares", create_share, methods=["POST"]),
    Route("/api/audits/{audit_id}/shares/{org_id}", delete_share, methods=["DELETE"]),
    Route("/api/audits/{audit_id}/assignments", assign, methods=["POST"]),
    Route("/api/audits/{audit_id}/assignments/{user_id}", unassign, methods=["DELETE"]),
    Route("/api/audits/{audit_id}/access-log", access_log, methods=["GET"]),
]
