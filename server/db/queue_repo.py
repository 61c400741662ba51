"""What each phone last said of the photos it holds that have not reached the server."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Evidence, PhoneQueue, utcnow


@dataclass(frozen=True)
class Report:
    """One phone's queue as it reported it (``count`` photos, ``bytes`` in all)."""

    phone: str
    name: str
    count: int
    bytes: int
    oldest_s: float | None
    sha256s: tuple[str, ...] | None = None  # each photo's device SHA-256, when the phone sent them


@dataclass(frozen=True)
class Waiting:
    """What is still on one phone: its last report, less the photos that have arrived since."""

    name: str
    count: int
    bytes: int
    reported_at: dt.datetime


async def record(s: AsyncSession, audit_id: str, report: Report) -> None:
    """Replace the phone's last report with this one."""
    row = await s.get(PhoneQueue, (audit_id, report.phone))
    if row is None:
        row = PhoneQueue(audit_id=audit_id, phone=report.phone)
        s.add(row)
    row.name, row.count, row.bytes, row.oldest_s = report.name, report.count, report.bytes, report.oldest_s
    row.pending = list(report.sha256s) if report.sha256s is not None else None
    row.reported_at = utcnow()
    await s.commit()


async def waiting(s: AsyncSession, audit_id: str) -> list[Waiting]:
    """The phones of the audit still holding photos, longest waiting first.

    A report that listed its photos' hashes is exact: each listed photo that has arrived
    (a photo of this audit with that device SHA-256) is counted off, with its bytes. A
    report without them counts until the phone reports again.
    """
    rows = list(
        (
            await s.execute(
                select(PhoneQueue)
                .where(PhoneQueue.audit_id == audit_id, PhoneQueue.count > 0)
                .order_by(PhoneQueue.reported_at)
            )
        ).scalars()
    )
    listed = {h for row in rows for h in row.pending or ()}
    arrived: dict[str, int] = {}
    if listed:
        found = await s.execute(
            select(Evidence.device_sha256, Evidence.size).where(
                Evidence.audit_id == audit_id,
                Evidence.kind == "photo",
                Evidence.device_sha256.in_(listed),
            )
        )
        arrived = {sha: size for sha, size in found.all() if sha is not None}
    out: list[Waiting] = []
    for row in rows:
        gone = [h for h in row.pending or () if h in arrived]
        count = row.count - len(gone)
        if count > 0:
            size = max(0, row.bytes - sum(arrived[h] for h in gone))
            out.append(Waiting(row.name, count, size, row.reported_at))
    return out
