"""The Starlette application: routes, lifespan (database, media hub), middleware."""

from __future__ import annotations

import asyncio
import contextlib
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

from server import admin_pages, certificate_page, datadir, facility_pages, invite_links
from server.api import admin as admin_api
from server.api import annotations as annotations_api
from server.api import audits as audits_api
from server.api import capa as capa_api
from server.api import certificates as certificates_api
from server.api import evidence as evidence_api
from server.api import export as export_api
from server.api import facilities as facilities_api
from server.api import ledger as ledger_api
from server.api import replay as replay_api
from server.api import repository as repository_api
from server.api import sharing as sharing_api
from server.api import staff as staff_api
from server.api import verify as verify_api
from server.api import walkthrough as walkthrough_api
from server.context import AppContext
from server.db.engine import open_database
from server.errors import ApiError, api_error_handler, http_error_handler
from server.i18n import Catalogues, Notices
from server.ledger_service import LedgerSigner
from server.media.hub import Hub
from server.media.link_state import with_link_state
from server.media.tap import check_internals
from server.middleware import AccessLogAndHeaders, redact
from server.pages import routes as page_routes
from server.photos import PhotoIntake
from server.recording import Recorders
from server.recovery import recover_at_start
from server.repository_log import RepositoryLog
from server.settings import Settings
from server.signaling.endpoint import routes as ws_routes
from server.signaling.registry import Sockets

__all__ = ["create_app", "make_templates", "redact", "web_dir"]


def web_dir() -> Path:
    return Path(str(resources.files("web")))


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(web_dir() / "templates"), autoescape=select_autoescape())
    return Jinja2Templates(env=env)


def create_app(settings: Settings) -> Starlette:
    """Build the app; nothing happens until the lifespan starts (database, directories)."""
    check_internals()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A bad catalogue or notice file stops the start before anything else is opened.
        catalogues = await asyncio.to_thread(Catalogues.load, web_dir() / "static" / "i18n")
        notices = await asyncio.to_thread(Notices.load, settings, catalogues)
        await asyncio.to_thread(datadir.prepare, settings.data_dir)
        db = await open_database(settings.database_url)
        recorders = Recorders(db, settings)
        attach = recorders.attach if settings.record else None
        hub = Hub(keyframe_interval=settings.keyframe_interval, on_new_room=with_link_state(attach))
        signer = await LedgerSigner.open(db, settings.data_dir)
        await recover_at_start(db, recorders.store, signer, settings.quarantine_dir, settings.scratch_dir)
        invite_base = await asyncio.to_thread(invite_links.invite_base, settings)
        invite_links.announce(settings, invite_base)
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
            repository=RepositoryLog(db, signer),
            catalogues=catalogues,
            notices=notices,
            invite_base=invite_base,
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
        *audits_api.routes,
        *facilities_api.routes,
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
        *admin_pages.routes,
        *certificates_api.routes,
        *capa_api.routes,
        *repository_api.routes,
        *certificate_page.routes,
        *facility_pages.routes,
        *ws_routes,
        Mount("/static", app=StaticFiles(directory=web_dir() / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(AccessLogAndHeaders, settings=settings)],
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler},
    )
