"""The repository log's rows: entries in ``seq`` order, signed heads, witnesses' cosignatures."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Cosignature, RepositoryEntry, RepositoryHead


async def next_seq(s: AsyncSession) -> int:
    current = await s.scalar(select(func.max(RepositoryEntry.seq)))
    return 0 if current is None else int(current) + 1


async def leaf_hashes(s: AsyncSession) -> list[bytes]:
    rows = await s.execute(select(RepositoryEntry.leaf_hash).order_by(RepositoryEntry.seq))
    return [bytes.fromhex(h) for h in rows.scalars()]


async def entries(s: AsyncSession, after: int, limit: int) -> list[RepositoryEntry]:
    rows = await s.execute(
        select(RepositoryEntry).where(RepositoryEntry.seq > after).order_by(RepositoryEntry.seq).limit(limit)
    )
    return list(rows.scalars())


async def entry(s: AsyncSession, seq: int) -> RepositoryEntry | None:
    rows = await s.execute(select(RepositoryEntry).where(RepositoryEntry.seq == seq))
    return rows.scalar_one_or_none()


async def last_head(s: AsyncSession) -> RepositoryHead | None:
    rows = await s.execute(select(RepositoryHead).order_by(RepositoryHead.id.desc()).limit(1))
    return rows.scalar_one_or_none()


async def head_of_size(s: AsyncSession, size: int) -> RepositoryHead | None:
    rows = await s.execute(
        select(RepositoryHead).where(RepositoryHead.size == size).order_by(RepositoryHead.id).limit(1)
    )
    return rows.scalar_one_or_none()


async def cosignatures(s: AsyncSession, size: int) -> list[Cosignature]:
    rows = await s.execute(select(Cosignature).where(Cosignature.size == size).order_by(Cosignature.id))
    return list(rows.scalars())


async def witnesses_covering(s: AsyncSession, seq: int, trusted: tuple[str, ...] = ()) -> int:
    """How many distinct witnesses cosigned a head that includes entry ``seq``; with
    ``trusted`` key ids, only those witnesses count (the others' cosignatures are ignored)."""
    query = select(func.count(func.distinct(Cosignature.witness_key_id))).where(Cosignature.size > seq)
    if trusted:
        query = query.where(Cosignature.witness_key_id.in_(trusted))
    return int(await s.scalar(query) or 0)
