"""Who is asking: a user (as a policy ``Actor``) by session cookie or bearer token."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from server.context import ctx
from server.db import org_repo
from server.policy import Actor

SESSION_COOKIE = "va_session"


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def cookie_authenticated(conn: HTTPConnection) -> bool:
    """The request rides on the browser's session cookie (so it needs CSRF and Origin checks)."""
    return bearer_token(conn) is None and bool(conn.cookies.get(SESSION_COOKIE))


async def current_actor(conn: HTTPConnection) -> Actor | None:
    """The authenticated actor, from a bearer API token or the session cookie; built once per request."""
    if "va_actor" in conn.scope:
        return conn.scope["va_actor"]  # type: ignore[no-any-return]
    token = bearer_token(conn)
    kinds: tuple[str, ...] = ("api",)
    if token is None:
        token = conn.cookies.get(SESSION_COOKIE)
        kinds = ("session",)
    actor = None
    if token and len(token) <= 200:
        async with ctx(conn).db.session() as s:
            actor = await org_repo.actor_for_credential(s, token, kinds)
    conn.scope["va_actor"] = actor
    return actor
