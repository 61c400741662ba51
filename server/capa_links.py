"""The facility's corrective-action link: made, revoked, resolved from its token, and what it
may read besides answering (the original picture of each finding, for a re-take).

A link is long-lived and revocable, scoped to one audit; only the token's SHA-256 is kept.
The policy's ``CAPA_ANSWER`` action (server/policy.py, ``link_decide``) is what it grants.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.context import AppContext
from server.db.models import Audit, CapaLink, CorrectiveAction, Evidence, utcnow
from server.errors import ApiError
from server.secrets_util import new_token, token_digest


async def create_link(app: AppContext, audit: Audit, user_id: str) -> tuple[CapaLink, str]:
    """A new link for the facility (earlier ones stay valid until revoked)."""
    token = new_token(24)
    async with app.db.session() as s:
        link = CapaLink(audit_id=audit.id, token_hash=token_digest(token), created_by=user_id)
        s.add(link)
        await s.commit()
    return link, token


async def revoke_links(app: AppContext, audit_id: str) -> int:
    async with app.db.session() as s:
        rows = await s.execute(
            select(CapaLink).where(CapaLink.audit_id == audit_id, CapaLink.revoked_at.is_(None))
        )
        links = list(rows.scalars())
        for link in links:
            link.revoked_at = utcnow()
        await s.commit()
    return len(links)


async def valid_link(app: AppContext, token: str) -> tuple[CapaLink, Audit]:
    """The link behind a token and its audit, or 404 (a revoked or unknown link looks the same)."""
    missing = ApiError(404, "not_found", "this corrective-action link is invalid or was revoked")
    if not token or len(token) > 200:
        raise missing
    async with app.db.session() as s:
        link = (
            await s.execute(select(CapaLink).where(CapaLink.token_hash == token_digest(token)))
        ).scalar_one_or_none()
        audit = await s.get(Audit, link.audit_id) if link is not None else None
    if link is None or link.revoked_at is not None or audit is None:
        raise missing
    return link, audit


def link_url(app: AppContext, token: str) -> str:
    return f"{app.invite_base}/capa/{token}"


ORIGINAL_KINDS = ("capture", "photo")


async def original_capture(s: AsyncSession, audit_id: str, action_id: str) -> Evidence | None:
    """The picture the finding was recorded with: its checkpoint's last capture or photo."""
    action = await s.get(CorrectiveAction, action_id) if len(action_id) <= 64 else None
    if action is None or action.audit_id != audit_id:
        return None
    rows = await s.execute(
        select(Evidence)
        .where(
            Evidence.audit_id == audit_id,
            Evidence.checkpoint == action.checkpoint_key,
            Evidence.kind.in_(ORIGINAL_KINDS),
        )
        .order_by(Evidence.seq.desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


async def with_originals(s: AsyncSession, audit_id: str) -> set[str]:
    """The checkpoints of an audit that have an original capture (or photo)."""
    rows = await s.execute(
        select(Evidence.checkpoint)
        .where(Evidence.audit_id == audit_id, Evidence.kind.in_(ORIGINAL_KINDS))
        .distinct()
    )
    return {key for key in rows.scalars() if key}
