"""The Starlette application: routes, lifespan (database, media hub), middleware."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import admin_pages
from server.api import admin as admin_api
from server.api import annotations as annotations_api
from server.api import audits as audits_api
from server.api import evidence as evidence_api
from server.api import export as export_api
from server.api import ledger as ledger_api
from server.api import replay as replay_api
from server.api import sharing as sharing_api
from server.api import staff as staff_api
from server.api import verify as verify_api
from server.api import walkthrough as walkthrough_api
from server.context import AppContext
from server.csrf import needs_check, same_origin
from server.db.engine import open_database
from server.errors import ApiError, api_error_handler, http_error_handler
from server.ledger_service import LedgerSigner
from server.media.hub import Hub
from server.media.tap import check_internals
from server.pages import routes as page_routes
from server.photos import PhotoIntake
from server.recording import Recorders
from server.settings import Settings
from server.signaling.endpoint import routes as ws_routes
from server.signaling.registry import Sockets

log = logging.getLogger("virtual_audit.access")
_SECRET_PATH = re.compile(r"^(/join/)[^/?]+")
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


def web_dir() -> Path:
    return Path(str(resources.files("web")))


def redact(path: str) -> str:
    """Access logs never show invite tokens."""
    return _SECRET_PATH.sub(r"\1[redacted]", path)


class AccessLogAndHeaders:
    """Access log with secrets redacted, CSRF refusal, and security headers on every HTTP response."""

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
                refusal = JSONResponse(
                    {
                        "error": {
                            "code": "csrf",
                            "message": "cross-site request refused: send it from this site's pages",
                        }
                    },
                    status_code=403,
                )
                await refusal(scope, receive, send_wrapper)
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                '%s "%s %s" %d %.1fms',
                scope.get("client", ("-",))[0],
                scope["method"],
                redact(scope["path"]),
                status,
                (time.perf_counter() - start) * 1000,
            )


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(web_dir() / "templates"), autoescape=select_autoescape())
    return Jinja2Templates(env=env)


def create_app(settings: Settings) -> Starlette:
    """Build the app; nothing happens until the lifespan starts (database, directories)."""
    check_internals()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = await open_database(settings.database_url)
        recorders = Recorders(db, settings)
        attach = recorders.attach if settings.record else None
        hub = Hub(keyframe_interval=settings.keyframe_interval, on_new_room=attach)
        signer = await LedgerSigner.open(db, settings.data_dir)
        sockets = Sockets(db)
        app.state.ctx = AppContext(
            settings=settings,
            db=db,
            hub=hub,
            recorders=recorders,
            signer=signer,
            sockets=sockets,
            templates=make_templates(),
            photos=PhotoIntake(settings),
        )
        signer.start(hub)
        sockets.start()
        try:
            yield
        finally:
            await sockets.close()
            await signer.close()
            await hub.close()
            await asyncio.to_thread(recorders.close)
            await db.close()

    routes = [
        *page_routes,
        *admin_pages.routes,
        *audits_api.routes,
        *evidence_api.routes,
        *walkthrough_api.routes,
        *staff_api.routes,
        *annotations_api.routes,
        *ledger_api.routes,
        *export_api.routes,
        *replay_api.routes,
        *verify_api.routes,
        *sharing_api.routes,
        *admin_api.routes,
        *ws_routes,
        Mount("/static", app=StaticFiles(directory=web_dir() / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(AccessLogAndHeaders, settings=settings)],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler},
    )
