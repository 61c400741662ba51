"""The ICE part of a participant's `welcome`: the configured servers and its own TURN credential."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server import turn
from server.context import AppContext
from server.db.models import Credential, utcnow


async def access_ends(
    app: AppContext, invite_expires: dt.datetime | None, credential_id: str | None
) -> dt.datetime | None:
    """When this participant's right to be here ends: its invite's expiry for a phone, its
    session's or API token's for a signed-in user (None: a token without an end)."""
    if invite_expires is not None:
        return invite_expires
    if credential_id is None:
        return None
    async with app.db.session() as s:
        row = await s.get(Credential, credential_id)
    return row.expires_at if row is not None else utcnow()


async def welcome_ice(
    app: AppContext, participant_id: str, invite_expires: dt.datetime | None, credential_id: str | None
) -> dict[str, Any]:
    """`ice_servers` and `ice_transport_policy` for a `welcome` (docs/protocol.md)."""
    settings = app.settings
    servers: list[dict[str, Any]] = list(settings.ice_servers_json())
    if settings.turn_urls and settings.turn_secret:
        ends = await access_ends(app, invite_expires, credential_id)
        servers += turn.ice_servers(settings.turn_urls, settings.turn_secret, participant_id, utcnow(), ends)
    return {"ice_servers": servers, "ice_transport_policy": settings.ice_transport_policy}
