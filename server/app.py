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

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api import annotations as annotations_api
from server.api import audits as audits_api
from server.api import evidence as evidence_api
from server.api import ledger as ledger_api
from server.api import staff as staff_api
from server.api import walkthrough as walkthrough_api
from server.context import AppContext
from server.db.engine import open_database
from server.errors import ApiError, api_error_handler, http_error_handler
from server.ledger_service import LedgerSigner
from server.media.hub import Hub
from server.media.tap import check_internals
from server.pages import routes as page_routes
from server.recording import Recorders
from server.recovery import recover_at_start
from server.settings import Settings
from server.signaling.endpoint import routes as ws_routes

log = logging.getLogger("virtual_audit.access")
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


def web_dir() -> Path:
    return Path(str(resources.files("web")))


def redact(path: str) -> str:
    """Access logs never show invite tokens."""
    return _SECRET_PATH.sub(r"\1[redacted]", path)


class AccessLogAndHeaders:
    """Access log with secrets redacted, and security headers on every HTTP response."""

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
        await recover_at_start(db, recorders.store, signer, settings.quarantine_dir, settings.scratch_dir)
        app.state.ctx = AppContext(
            settings=settings, db=db, hub=hub, recorders=recorders, signer=signer, templates=make_templates()
        )
        signer.start(hub)
        try:
            yield
        finally:
            await signer.close()
            await hub.close()
            await asyncio.to_thread(recorders.close)
            await db.close()

    routes = [
        *page_routes,
        *audits_api.routes,
        *evidence_api.routes,
        *walkthrough_api.routes,
        *staff_api.routes,
        *annotations_api.routes,
        *ledger_api.routes,
        *ws_routes,
        Mount("/static", app=StaticFiles(directory=web_dir() / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(AccessLogAndHeaders)],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler},
    )
