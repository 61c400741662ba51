"""Per-application state, created by the lifespan and reachable from every request."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.templating import Jinja2Templates

from server.db.engine import Database
from server.ledger_service import LedgerSigner
from server.media.hub import Hub
from server.recording import Recorders
from server.settings import Settings
from server.signaling.ratelimit import LedgerThrottle


@dataclass
class AppContext:
    settings: Settings
    db: Database
    hub: Hub
    recorders: Recorders
    signer: LedgerSigner
    templates: Jinja2Templates
    invite_base: str = ""  # see server/invite_links.py
    ledger_throttle: LedgerThrottle = field(default_factory=LedgerThrottle)


def ctx(conn: HTTPConnection) -> AppContext:
    context: AppContext = conn.app.state.ctx
    return context
