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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import error_body
from server.logging_setup import escape

access_log = logging.getLogger("virtual_audit.access")
error_log = logging.getLogger("virtual_audit.errors")
_SECRET_PATH = re.compile(r"^(/join/)[^/?]+")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(self), screen-wake-lock=(self)"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        b"connect-src 'self' ws: wss:; frame-ancestors 'none'",
    ),
]
_ERROR_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Server error</title>"
    b"<h1>Something went wrong</h1><p>The server could not answer this request. "
    b"Try again; if it keeps happening, tell the operator the time it happened.</p></html>"
)


def redact(path: str) -> str:
    """Access logs never show invite tokens."""
    return _SECRET_PATH.sub(r"\1[redacted]", path)


def error_response(path: str) -> tuple[bytes, bytes]:
    """(content type, body) of the 500 answer for a request path."""
    if path.startswith("/api/") or path == "/api":
        body = error_body("internal", "the server could not handle this request")
        return b"application/json", json.dumps(body).encode()
    return b"text/html; charset=utf-8", _ERROR_PAGE


class AccessLogAndHeaders:
    """Access log with secrets redacted, security headers on every HTTP response, catch-all 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
            await send(message)

        try:
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
