"""The open signaling sockets of this process, so access changes reach live sessions.

Revoking an invite or a user's tokens, removing an auditor or completing an audit closes
the sockets it concerns at once; a sweep every second also closes sockets whose invite or
credential expired or was revoked elsewhere (another process, the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import select

from server.db import org_repo
from server.db.engine import Database
from server.db.models import Invite, utcnow

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0
CLOSE_REVOKED = 4403
CLOSE_AUDIT_COMPLETED = 4409


class Closable(Protocol):
    audit_id: str
    invite_id: str | None
    credential_id: str | None
    user_id: str | None

    async def disconnect(self, code: int, reason: str, notice: dict[str, Any]) -> None: ...


class Sockets:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.open: set[Closable] = set()
        self.sealing: set[str] = set()  # audits being completed: no one joins them any more
        self._sweeper: asyncio.Task[None] | None = None

    def add(self, conn: Closable) -> None:
        self.open.add(conn)

    def discard(self, conn: Closable) -> None:
        self.open.discard(conn)

    async def close_where(
        self, match: Callable[[Closable], bool], code: int, reason: str, notice: dict[str, Any]
    ) -> int:
        targets = [c for c in list(self.open) if match(c)]
        for conn in targets:
            self.open.discard(conn)
        await asyncio.gather(*(c.disconnect(code, reason, notice) for c in targets), return_exceptions=True)
        return len(targets)

    async def close_invite(self, invite_id: str, reason: str) -> int:
        notice = {"type": "access-ended", "reason": "invite_revoked", "message": reason}
        return await self.close_where(lambda c: c.invite_id == invite_id, CLOSE_REVOKED, reason, notice)

    async def close_user(self, user_id: str, reason: str) -> int:
        notice = {"type": "access-ended", "reason": "signed_out", "message": reason}
        return await self.close_where(lambda c: c.user_id == user_id, CLOSE_REVOKED, reason, notice)

    async def close_credential(self, credential_id: str, reason: str) -> int:
        notice = {"type": "access-ended", "reason": "signed_out", "message": reason}
        return await self.close_where(
            lambda c: c.credential_id == credential_id, CLOSE_REVOKED, reason, notice
        )

    async def close_user_in_audit(self, user_id: str, audit_id: str, reason: str) -> int:
        notice = {"type": "access-ended", "reason": "unassigned", "message": reason}
        return await self.close_where(
            lambda c: c.user_id == user_id and c.audit_id == audit_id, CLOSE_REVOKED, reason, notice
        )

    async def close_audit(self, audit_id: str, notice: dict[str, Any]) -> int:
        return await self.close_where(
            lambda c: c.audit_id == audit_id, CLOSE_AUDIT_COMPLETED, "this audit is finished", notice
        )

    # -- the sweep -----------------------------------------------------------------------
    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep()
            except Exception as exc:  # the sweep must outlive a database hiccup
                log.warning("socket sweep failed: %s", type(exc).__name__)

    async def sweep(self) -> None:
        """Close sockets whose invite or credential is no longer valid."""
        invites = {c.invite_id for c in self.open if c.invite_id}
        creds = {c.credential_id for c in self.open if c.credential_id}
        if not invites and not creds:
            return
        async with self.db.session() as s:
            dead_creds = await org_repo.dead_credentials(s, creds)
            dead_invites: set[str] = set()
            if invites:
                rows = await s.execute(
                    select(Invite.id, Invite.revoked_at, Invite.expires_at).where(Invite.id.in_(invites))
                )
                now = utcnow()
                live = {i for i, revoked, expires in rows.all() if revoked is None and expires > now}
                dead_invites = invites - live
        for invite_id in dead_invites:
            await self.close_invite(invite_id, "this invite link has expired or was revoked")
        for cred in dead_creds:
            await self.close_credential(cred, "you were signed out")
