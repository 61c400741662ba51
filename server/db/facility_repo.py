"""Facilities, their certificates and audit history, and members' supplier links in the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Audit, Certificate, CorrectiveAction, Facility, FacilityLink
from server.policy import Actor, visible_audits

MAX_RESULTS = 200


def facility_key(name: str, country: str) -> str:
    """Name and country, whitespace collapsed and case folded: two spellings of one site match."""
    return f"{' '.join(name.split()).casefold()}\n{country.strip().casefold()}"


async def get(s: AsyncSession, facility_id: str) -> Facility | None:
    if len(facility_id) > 64:
        return None
    return await s.get(Facility, facility_id)


async def by_key(s: AsyncSession, key: str) -> Facility | None:
    rows = await s.execute(select(Facility).where(Facility.facility_key == key).order_by(Facility.created_at))
    return rows.scalars().first()


async def search(s: AsyncSession, q: str | None, country: str | None) -> list[Facility]:
    """Facilities whose name contains ``q`` and whose country is ``country`` (both case-insensitive)."""
    query = select(Facility)
    if q:
        # The key is "name\ncountry", folded in Python: matching before the newline is a name match.
        pattern = "%" + _escape(" ".join(q.split()).casefold()) + "%\n%"
        query = query.where(Facility.facility_key.like(pattern, escape="\\"))
    if country:
        query = query.where(
            Facility.facility_key.endswith("\n" + country.strip().casefold(), autoescape=True)
        )
    rows = await s.execute(query.order_by(Facility.name, Facility.country).limit(MAX_RESULTS))
    return list(rows.scalars())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def certificates_of(s: AsyncSession, facility_ids: list[str]) -> dict[str, Certificate]:
    """Each facility's newest certificate: the one in force, unless it was revoked or has expired."""
    if not facility_ids:
        return {}
    rows = await s.execute(
        select(Certificate).where(Certificate.facility_key.in_(facility_ids)).order_by(Certificate.issued_at)
    )
    return {cert.facility_key: cert for cert in rows.scalars()}


async def history(s: AsyncSession, facility_id: str, actor: Actor) -> list[Audit]:
    """The facility's audits that ``actor`` may see, newest first."""
    rows = await s.execute(
        select(Audit)
        .where(Audit.facility_id == facility_id, visible_audits(actor))
        .order_by(Audit.created_at.desc())
        .limit(MAX_RESULTS)
    )
    return list(rows.scalars())


async def last_audits(s: AsyncSession, facility_ids: list[str], actor: Actor) -> dict[str, dt.datetime]:
    """When each facility was last audited, counting only the audits ``actor`` may see."""
    if not facility_ids:
        return {}
    when = func.max(func.coalesce(Audit.completed_at, Audit.created_at))
    rows = await s.execute(
        select(Audit.facility_id, when)
        .where(Audit.facility_id.in_(facility_ids), visible_audits(actor))
        .group_by(Audit.facility_id)
    )
    return {str(fid): _aware(at) for fid, at in rows if at is not None}


async def open_actions(
    s: AsyncSession, facility_ids: list[str], actor: Actor
) -> dict[str, list[tuple[str, dt.date]]]:
    """Each facility's corrective actions not yet accepted, as (audit id, due date), counting
    only the audits ``actor`` may see."""
    if not facility_ids:
        return {}
    rows = await s.execute(
        select(Audit.facility_id, CorrectiveAction.audit_id, CorrectiveAction.due_date)
        .join(Audit, Audit.id == CorrectiveAction.audit_id)
        .where(
            Audit.facility_id.in_(facility_ids),
            CorrectiveAction.status != "accepted",
            visible_audits(actor),
        )
    )
    found: dict[str, list[tuple[str, dt.date]]] = {}
    for facility_id, audit_id, due in rows:
        found.setdefault(str(facility_id), []).append((str(audit_id), due))
    return found


def _aware(value: dt.datetime | str) -> dt.datetime:
    """Aggregates skip the column type: SQLite hands back the stored text."""
    parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


async def link(s: AsyncSession, facility_id: str, org_id: str, user_id: str) -> bool:
    """Name the facility a supplier of the organisation; False when it already was."""
    s.add(FacilityLink(facility_id=facility_id, org_id=org_id, created_by=user_id))
    try:
        await s.commit()
    except IntegrityError:
        await s.rollback()
        return False
    return True


async def unlink(s: AsyncSession, facility_id: str, org_id: str) -> bool:
    result = await s.execute(
        delete(FacilityLink).where(FacilityLink.facility_id == facility_id, FacilityLink.org_id == org_id)
    )
    await s.commit()
    return bool(getattr(result, "rowcount", 0))


async def suppliers(s: AsyncSession, org_id: str) -> list[Facility]:
    rows = await s.execute(
        select(Facility)
        .join(FacilityLink, FacilityLink.facility_id == Facility.id)
        .where(FacilityLink.org_id == org_id)
        .order_by(Facility.name)
    )
    return list(rows.scalars())
