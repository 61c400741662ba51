"""What the access policy needs to know about an audit, shares, assignments and the access log."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AccessRecord, Assignment, Audit, Organisation, Share, User
from server.policy import Actor, AuditFacts

PAGE = 100


async def facts(s: AsyncSession, audit: Audit) -> AuditFacts:
    assigned = await s.scalars(select(Assignment.user_id).where(Assignment.audit_id == audit.id))
    shared = await s.scalars(select(Share.org_id).where(Share.audit_id == audit.id))
    return AuditFacts(
        id=audit.id,
        firm_id=audit.firm_id,
        completed=audit.status == "completed",
        lead_auditor_id=audit.lead_auditor_id,
        assigned=frozenset(assigned),
        shared_with=frozenset(shared),
    )


async def shares(s: AsyncSession, audit_id: str) -> list[tuple[Share, Organisation]]:
    rows = await s.execute(
        select(Share, Organisation)
        .join(Organisation, Organisation.id == Share.org_id)
        .where(Share.audit_id == audit_id)
        .order_by(Share.created_at)
    )
    return [(sh, o) for sh, o in rows.all()]


async def add_share(s: AsyncSession, audit_id: str, org_id: str, actor: Actor) -> tuple[Share, bool]:
    """Share (idempotent): returns the share and whether it is new. Committed by the caller."""
    existing = (
        await s.execute(select(Share).where(Share.audit_id == audit_id, Share.org_id == org_id))
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    share = Share(audit_id=audit_id, org_id=org_id, created_by=actor.user_id)
    s.add(share)
    try:
        await s.flush()
    except IntegrityError:
        await s.rollback()
        again = (
            await s.execute(select(Share).where(Share.audit_id == audit_id, Share.org_id == org_id))
        ).scalar_one()
        return again, False
    return share, True


async def remove_share(s: AsyncSession, audit_id: str, org_id: str) -> bool:
    result = await s.execute(delete(Share).where(Share.audit_id == audit_id, Share.org_id == org_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def assignments(s: AsyncSession, audit_id: str) -> list[User]:
    rows = await s.scalars(
        select(User).join(Assignment, Assignment.user_id == User.id).where(Assignment.audit_id == audit_id)
    )
    return list(rows)


async def assign(s: AsyncSession, audit_id: str, user_id: str, actor: Actor) -> None:
    exists = await s.scalar(
        select(Assignment.id).where(Assignment.audit_id == audit_id, Assignment.user_id == user_id)
    )
    if exists is None:
        s.add(Assignment(audit_id=audit_id, user_id=user_id, created_by=actor.user_id))
    await s.commit()


async def unassign(s: AsyncSession, audit_id: str, user_id: str) -> bool:
    result = await s.execute(
        delete(Assignment).where(Assignment.audit_id == audit_id, Assignment.user_id == user_id)
    )
    await s.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def access_record(actor: Actor, audit_id: str, action: str, target: str, address: str | None) -> AccessRecord:
    """One access-log row; the caller adds it to the transaction that answers the request."""
    return AccessRecord(
        audit_id=audit_id,
        user_id=actor.user_id,
        user_name=actor.name,
        user_email=actor.email,
        org_id=actor.org_id,
        org_name=actor.org_name,
        org_kind=actor.org_kind.value,
        role=actor.role.value,
        action=action,
        target=target[:300],
        address=address[:100] if address else None,
    )


async def access_log(s: AsyncSession, audit_id: str, after: int, limit: int = PAGE) -> list[AccessRecord]:
    """Newest first; ``after`` is the id of the last row of the previous page (0: from the newest)."""
    q = select(AccessRecord).where(AccessRecord.audit_id == audit_id)
    if after:
        q = q.where(AccessRecord.id < after)
    rows = await s.scalars(q.order_by(AccessRecord.id.desc()).limit(limit))
    return list(rows)
