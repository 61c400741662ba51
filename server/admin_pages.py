"""The administration page: organisations, their users, and signing a user out everywhere.

The page only reads; its forms and buttons call the JSON API of ``server/api/admin.py``,
so the page and the API refuse the same things with the same messages.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.api.admin import org_json
from server.api.admin import user_json as admin_user_json
from server.auth import current_actor
from server.context import ctx
from server.db import org_repo
from server.pages import render, to_login, user_json
from server.policy import ROLES_OF_KIND, Action, Actor, Decision, decide


def forbidden(request: Request, actor: Actor) -> Response:
    context = {
        "user": user_json(actor),
        "title": "Not allowed",
        "message": f"Your role ({actor.role.value}) cannot administer organisations and users.",
    }
    return render(request, "error.html", context, 403)


async def admin_context(request: Request, actor: Actor) -> dict[str, Any]:
    async with ctx(request).db.session() as s:
        orgs = await org_repo.list_orgs(s)
        users = await org_repo.list_users(s)
    members = Counter(user.org_id for user, _ in users)
    return {
        "user": user_json(actor),
        "orgs": [org_json(org) | {"users": members[org.id]} for org in orgs],
        "users": [admin_user_json(user, org) for user, org in users],
        "roles_of_kind": {kind.value: [r.value for r in roles] for kind, roles in ROLES_OF_KIND.items()},
    }


async def admin_page(request: Request) -> Response:
    actor = await current_actor(request)
    if actor is None:
        return to_login(request)
    if decide(actor, Action.ADMINISTER) is not Decision.ALLOWED:
        return forbidden(request, actor)
    return render(request, "admin.html", await admin_context(request, actor))


routes = [Route("/admin", admin_page, methods=["GET"])]
