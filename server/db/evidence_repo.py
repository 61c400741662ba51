"""Data access for evidence items and recording segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Evidence, Segment

SEQ_RETRIES = 5


async def add_evidence(s: AsyncSession, *, audit_id: str, **fields: Any) -> Evidence:
    """Insert an evidence row with the audit's next sequence number (committed before it returns)."""
    for _ in range(SEQ_RETRIES):
        current = await s.scalar(select(func.max(Evidence.seq)).where(Evidence.audit_id == audit_id))
        row = Evidence(audit_id=audit_id, seq=(current or 0) + 1, **fields)
        s.add(row)
        try:
            await s.commit()
            return row
        except IntegrityError:
            # Another writer took that number (several processes): take the next one.
            await s.rollback()
    raise RuntimeError("could not allocate an evidence sequence number")


async def list_evidence(
    s: AsyncSession,
    audit_id: str,
    *,
    kind: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[Evidence]:
    query = select(Evidence).where(Evidence.audit_id == audit_id, Evidence.seq > after_seq)
    if kind is not None:
        query = query.where(Evidence.kind == kind)
    if since is not None:
        query = query.where(Evidence.captured_at >= since)
    if until is not None:
        query = query.where(Evidence.captured_at < until)
    rows = await s.execute(query.order_by(Evidence.seq).limit(limit))
    return list(rows.scalars())


async def get_evidence(s: AsyncSession, evidence_id: str) -> Evidence | None:
    return await s.get(Evidence, evidence_id)


async def add_segment(s: AsyncSession, **fields: Any) -> Segment:
    row = Segment(**fields)
    s.add(row)
    await s.commit()
    return row


async def list_segments(s: AsyncSession, audit_id: str) -> list[Segment]:
    rows = await s.execute(select(Segment).where(Segment.audit_id == audit_id).order_by(Segment.seq))
    return list(rows.scalars())


async def get_segment(s: AsyncSession, audit_id: str, seq: int) -> Segment | None:
    rows = await s.execute(select(Segment).where(Segment.audit_id == audit_id, Segment.seq == seq))
    return rows.scalar_one_or_none()
