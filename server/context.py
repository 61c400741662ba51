"""Per-application state, created by the lifespan and reachable from every request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.templating import Jinja2Templates

from server.db.engine import Database
from server.i18n import Catalogues, Notices
from server.ledger_service import LedgerSigner
from server.media.hub import Hub
from server.photos import PhotoIntake
from server.recording import Recorders
from server.repository_log import RepositoryLog
from server.settings import Settings
from server.signaling.ratelimit import LedgerThrottle
from server.signaling.registry import Sockets


@dataclass
class AppContext:
    settings: Settings
    db: Database
    hub: Hub
    recorders: Recorders
    signer: LedgerSigner
    sockets: Sockets
    templates: Jinja2Templates
    photos: PhotoIntake
    repository: RepositoryLog
    catalogues: Catalogues  # the phone pages' texts, per language
    notices: Notices  # the recording notice each phone language is shown
    # Verifying an uploaded package holds its ledger in memory: at most two at once.
    verifications: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    invite_base: str = ""  # see server/invite_links.py
    ledger_throttle: LedgerThrottle = field(default_factory=LedgerThrottle)


def ctx(conn: HTTPConnection) -> AppContext:
    context: AppContext = conn.app.state.ctx
    return context
