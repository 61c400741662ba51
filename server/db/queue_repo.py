"""What each phone last said of the photos it holds that have not reached the server."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import PhoneQueue, utcnow


@dataclass(frozen=True)
class Report:
    """One phone's queue as it reported it (``count`` photos, ``bytes`` in all)."""

    phone: str
    name: str
    count: int
    bytes: int
    oldest_s: float | None


async def record(s: AsyncSession, audit_id: str, report: Report) -> None:
    """Replace the phone's last report with this one."""
    row = await s.get(PhoneQueue, (audit_id, report.phone))
    if row is None:
        row = PhoneQueue(audit_id=audit_id, phone=report.phone)
        s.add(row)
    row.name, row.count, row.bytes, row.oldest_s = report.name, report.count, report.bytes, report.oldest_s
    row.reported_at = utcnow()
    await s.commit()


async def waiting(s: AsyncSession, audit_id: str) -> list[PhoneQueue]:
    """The phones of the audit whose last report holds photos, longest waiting first."""
    rows = await s.execute(
        select(PhoneQueue)
        .where(PhoneQueue.audit_id == audit_id, PhoneQueue.count > 0)
        .order_by(PhoneQueue.reported_at)
    )
    return list(rows.scalars())
