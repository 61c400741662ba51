"""The outermost HTTP layer: access log, security headers, and the one catch-all for errors.

Starlette's ``ServerErrorMiddleware`` sits outside user middleware, so its 500 page
would go out without the security headers and with a traceback in the log. Unhandled
exceptions are turned into a response here instead: JSON for ``/api`` paths, a small
HTML page otherwise, headers included, and one log line naming the exception type.
"""

from __future__ import annotations

import json
import logging
import re
import time
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.csrf import needs_check, same_origin
from server.errors import error_body
from server.logging_setup import escape
from server.settings import Settings

access_log = logging.getLogger("virtual_audit.access")
error_log = logging.getLogger("virtual_audit.errors")
_SECRET_PATH = re.compile(r"^(/join/|/capa/|/api/capa/)[^/?]+")
BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(self), screen-wake-lock=(self)"),
]
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src {connect}; frame-ancestors 'none'"
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
CSRF_REFUSAL = error_body("csrf", "cross-site request refused: send it from this site's pages")


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """Headers on every response. Under TLS: HSTS, and sockets only to our own origin."""
    if not settings.tls:
        connect = "'self' ws: wss:"  # plain-HTTP development: browsers differ on ws: under 'self'
        return [*BASE_HEADERS, (b"content-security-policy", CSP.format(connect=connect).encode())]
    connect = "'self'"
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        connect += f" {parts.scheme}://{parts.netloc} wss://{parts.netloc}"
    return [*BASE_HEADERS, (b"content-security-policy", CSP.format(connect=connect).encode()), HSTS]


_ERROR_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Server error</title>"
    b"<h1>Something went wrong</h1><p>The server could not answer this request. "
    b"Try again; if it keeps happening, tell the operator the time it happened.</p></html>"
)


def redact(path: str) -> str:
    """Access logs never show invite or corrective-action link tokens."""
    return _SECRET_PATH.sub(r"\1[redacted]", path)


def error_response(path: str) -> tuple[bytes, bytes]:
    """(content type, body) of the 500 answer for a request path."""
    if path.startswith("/api/") or path == "/api":
        body = error_body("internal", "the server could not handle this request")
        return b"application/json", json.dumps(body).encode()
    return b"text/html; charset=utf-8", _ERROR_PAGE


class AccessLogAndHeaders:
    """Access log with secrets redacted, CSRF refusal, security headers on every response, catch-all 500."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.headers = security_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0
        no_store = self.settings.tls and not scope["path"].startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    h
                    for h in message.get("headers", [])
                    if not (no_store and h[0].lower() == b"cache-control")
                ]
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            conn = HTTPConnection(scope)
            if needs_check(conn, scope["method"]) and not same_origin(conn, self.settings):
                await JSONResponse(CSRF_REFUSAL, status_code=403)(scope, receive, send_wrapper)
                return
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            error_log.error(
                "unhandled %s on %s %s",
                type(exc).__name__,
                escape(scope["method"]),
                escape(redact(scope["path"])),
                exc_info=exc if error_log.isEnabledFor(logging.DEBUG) else None,
            )
            if status == 0:  # nothing sent yet: answer properly
                await self._internal_error(scope["path"], send_wrapper)
        finally:
            access_log.info(
                '%s "%s %s" %d %.1fms',
                escape(scope.get("client", ("-",))[0]),
                escape(scope["method"]),
                escape(redact(scope["path"])),
                status,
                (time.perf_counter() - start) * 1000,
            )

    @staticmethod
    async def _internal_error(path: str, send: Send) -> None:
        content_type, body = error_response(path)
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})
