"""Reviews and certificates in the database."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Certificate, CheckpointResult, CorrectiveAction, Review


async def get(s: AsyncSession, certificate_id: str) -> Certificate | None:
    if len(certificate_id) > 64:
        return None
    return await s.get(Certificate, certificate_id)


async def in_force_for_facility(s: AsyncSession, facility_key: str) -> list[Certificate]:
    """Certificates of the facility that nothing has superseded or revoked (expired ones included)."""
    rows = await s.execute(
        select(Certificate)
        .where(Certificate.facility_key == facility_key, Certificate.status == "issued")
        .order_by(Certificate.issued_at)
    )
    return list(rows.scalars())


async def reviews(s: AsyncSession, audit_id: str) -> list[Review]:
    rows = await s.execute(select(Review).where(Review.audit_id == audit_id).order_by(Review.created_at))
    return list(rows.scalars())


async def accepted(s: AsyncSession, audit_id: str) -> bool:
    count = await s.scalar(
        select(func.count(Review.id)).where(Review.audit_id == audit_id, Review.decision == "accept")
    )
    return bool(count)


async def open_corrective_actions(s: AsyncSession, audit_id: str) -> int:
    """The audit's corrective actions not yet accepted (server/capa.py). An audit completed
    before corrective actions were tracked has none: its results that ask for a corrective
    action count as open instead."""
    actions = await s.execute(select(CorrectiveAction.status).where(CorrectiveAction.audit_id == audit_id))
    statuses = list(actions.scalars())
    if statuses:
        return sum(1 for status in statuses if status != "accepted")
    count = await s.scalar(
        select(func.count(CheckpointResult.id)).where(
            CheckpointResult.audit_id == audit_id,
            CheckpointResult.corrective_action.is_not(None),
            func.trim(CheckpointResult.corrective_action) != "",
        )
    )
    return int(count or 0)
