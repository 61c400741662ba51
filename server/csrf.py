"""Cross-site request forgery: cookie-authenticated writes must come from our own pages.

A state-changing request that rides on the session cookie must carry an ``Origin`` (or,
failing that, a ``Referer``) equal to the server's origin: ``--public-url`` when set, else
the request's own scheme and Host. Neither header means refusal too. Bearer-token and
invite clients are not browsers' ambient credentials, so they are unaffected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from server.auth import cookie_authenticated
from server.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc.lower()}"


def expected_origins(conn: HTTPConnection, settings: Settings) -> set[str]:
    """The origins our own pages are served from."""
    origins = set()
    if settings.public_url:
        public = _origin_of(settings.public_url)
        if public:
            origins.add(public)
    host = conn.headers.get("host")
    if host:
        scheme = "https" if settings.tls or conn.url.scheme in ("https", "wss") else "http"
        origins.add(f"{scheme}://{host.lower()}")
    return origins


def same_origin(conn: HTTPConnection, settings: Settings) -> bool:
    """Does the request say it comes from one of our pages?"""
    sent = conn.headers.get("origin")
    if sent is None or sent == "null":
        referer = conn.headers.get("referer")
        if referer is None:
            return False
        sent = referer
    origin = _origin_of(sent)
    return origin is not None and origin in expected_origins(conn, settings)


def needs_check(conn: HTTPConnection, method: str) -> bool:
    return method.upper() not in SAFE_METHODS and cookie_authenticated(conn)
