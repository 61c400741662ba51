"""Who is asking: auditors by session cookie or bearer token."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from server.context import ctx
from server.db import repo
from server.db.models import User

SESSION_COOKIE = "va_session"


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def current_user(conn: HTTPConnection) -> User | None:
    """The authenticated auditor, from a bearer API token or the session cookie."""
    cached = conn.scope.get("va_user")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = bearer_token(conn)
    kinds: tuple[str, ...] = ("api",)
    if token is None:
        token = conn.cookies.get(SESSION_COOKIE)
        kinds = ("session",)
    if not token or len(token) > 200:
        return None
    async with ctx(conn).db.session() as s:
        user = await repo.user_for_credential(s, token, kinds)
    conn.scope["va_user"] = user
    return user
