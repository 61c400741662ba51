"""Organisations and users: the association's administrators manage them (also from the CLI)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.access import require, require_actor
from server.api.common import read_json, text_field
from server.context import ctx
from server.db import org_repo, repo
from server.db.models import Organisation, User
from server.errors import ApiError
from server.policy import Action, OrgKind, Role
from server.views import iso

MIN_PASSWORD = 8


def org_json(org: Organisation) -> dict[str, Any]:
    return {"id": org.id, "kind": org.kind, "name": org.name, "created_at": iso(org.created_at)}


def user_json(user: User, org: Organisation) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "org": {"id": org.id, "name": org.name, "kind": org.kind},
        "created_at": iso(user.created_at),
    }


async def list_orgs(request: Request) -> Response:
    """Admins see every organisation; an audit firm sees the members it can share with."""
    actor = await require_actor(request)
    async with ctx(request).db.session() as s:
        orgs = await org_repo.list_orgs(s)
    if actor.role is not Role.ADMIN:
        if actor.role not in (Role.AUDITOR, Role.REVIEWER):
            raise ApiError(403, "forbidden", f"your role ({actor.role.value}) may not list organisations")
        orgs = [o for o in orgs if o.kind == OrgKind.MEMBER.value]
    return JSONResponse({"items": [org_json(o) for o in orgs]})


async def create_org(request: Request) -> Response:
    await require(request, Action.ADMINISTER)
    body = await read_json(request)
    try:
        kind = OrgKind(str(body.get("kind")))
    except ValueError as exc:
        kinds = ", ".join(k.value for k in OrgKind)
        raise ApiError(422, "invalid", f"'kind' must be one of {kinds}") from exc
    name = text_field(body, "name", limit=300, required=True)
    assert name is not None
    async with ctx(request).db.session() as s:
        try:
            org = await org_repo.create_org(s, kind, name)
        except org_repo.OrgError as exc:
            raise ApiError(409, "conflict", str(exc)) from exc
    return JSONResponse(org_json(org), status_code=201)


async def list_users(request: Request) -> Response:
    await require(request, Action.ADMINISTER)
    async with ctx(request).db.session() as s:
        rows = await org_repo.list_users(s)
    return JSONResponse({"items": [user_json(u, o) for u, o in rows]})


async def create_user(request: Request) -> Response:
    await require(request, Action.ADMINISTER)
    body = await read_json(request)
    email = text_field(body, "email", limit=320, required=True)
    name = text_field(body, "name", limit=200, required=True)
    org = text_field(body, "org", limit=300, required=True)
    role = text_field(body, "role", limit=20, required=True)
    password = body.get("password")
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= 1000:
        raise ApiError(422, "invalid", f"'password' must be {MIN_PASSWORD} to 1000 characters")
    assert email and name
    if "@" not in email:
        raise ApiError(422, "invalid", "'email' must be an email address")
    async with ctx(request).db.session() as s:
        try:
            user = await repo.create_user(s, email, name, password, org, role)
        except org_repo.OrgError as exc:
            raise ApiError(422, "invalid", str(exc)) from exc
        except repo.Conflict as exc:
            raise ApiError(409, "conflict", str(exc)) from exc
        organisation = await org_repo.get_org(s, user.org_id)
    assert organisation is not None
    return JSONResponse(user_json(user, organisation), status_code=201)


async def revoke_tokens(request: Request) -> Response:
    """Sign a user out everywhere: every session and API token, and their open sockets."""
    await require(request, Action.ADMINISTER)
    user_id = str(request.path_params["user_id"])
    async with ctx(request).db.session() as s:
        if await org_repo.actor_for_user(s, user_id) is None:
            raise ApiError(404, "not_found", "no such user")
        revoked = await org_repo.revoke_user_credentials(s, user_id)
    closed = await ctx(request).sockets.close_user(user_id, "your access was revoked")
    return JSONResponse({"revoked": revoked, "sockets_closed": closed})


routes = [
    Route("/api/orgs", list_orgs, methods=["GET"]),
    Route("/api/orgs", create_org, methods=["POST"]),
    Route("/api/users", list_users, methods=["GET"]),
    Route("/api/users", create_user, methods=["POST"]),
    Route("/api/users/{user_id}/revoke-tokens", revoke_tokens, methods=["POST"]),
]
