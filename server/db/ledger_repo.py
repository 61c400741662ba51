"""The evidence ledger in the database: every evidence row and audit event gets an entry,
in the same transaction, so nothing is acknowledged that the ledger does not hold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from recorder import merkle
from recorder.ledger import CORRECTIVE_ACTION, VERSION, canonical_json, entry_problems, utc_ms
from server.db.models import Audit, Base, LedgerEntry, TreeHeadRow
from server.errors import ApiError

RETRIES = 8


class AuditSealed(ApiError):
    """An append to the ledger of a completed audit (a write that raced the completion)."""

    def __init__(self, message: str) -> None:
        super().__init__(409, "audit_completed", message)


class LedgerWriteError(RuntimeError):
    """The entry could not be appended (its fields break the ledger rules)."""


def ledger_safe(value: Any) -> Any:
    """Canonical JSON has no floats: keep them as their decimal text."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): ledger_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [ledger_safe(v) for v in value]
    if isinstance(value, dt.datetime):
        return utc_ms(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


async def next_seq(s: AsyncSession, audit_id: str) -> int:
    current = await s.scalar(select(func.max(LedgerEntry.seq)).where(LedgerEntry.audit_id == audit_id))
    return 0 if current is None else int(current) + 1


def build_entry(audit_id: str, seq: int, fields: dict[str, Any]) -> tuple[str, str]:
    entry = {"v": VERSION, "audit": audit_id, "seq": seq, **ledger_safe(fields)}
    if "at" not in entry:
        entry["at"] = utc_ms(dt.datetime.now(dt.UTC))
    problems = entry_problems(entry)
    if problems:
        raise LedgerWriteError(f"ledger entry refused: {'; '.join(problems)}")
    body = canonical_json(entry)
    return body.decode("utf-8"), merkle.leaf_hash(body).hex()


async def commit_with_entry(
    s: AsyncSession,
    audit_id: str,
    rows: list[Base],
    fields: Callable[[], dict[str, Any]],
    before: Callable[[], Any] | None = None,
    *,
    sealing: bool = False,
    after_completion_ok: bool = False,
) -> int:
    """Add ``rows`` and their ledger entry and commit them together; returns the entry's seq.

    ``fields`` is called after the rows are flushed (ids and sequence numbers known);
    ``before`` (re)computes row fields that may collide with another writer. On a
    collision everything is retried. A completed audit's ledger is sealed: appending
    raises ``AuditSealed`` (``sealing`` is for the completion entry itself), except for
    ``corrective-action`` entries appended with ``after_completion_ok`` (server/capa.py
    only): a facility's response to a corrective action, or the firm's decision on it.
    """
    for attempt in range(RETRIES):
        completed = await s.scalar(select(Audit.status).where(Audit.id == audit_id)) == "completed"
        if completed and not sealing and not after_completion_ok:
            await s.rollback()
            raise AuditSealed(f"audit {audit_id} is completed: its ledger takes no more entries")
        try:
            if before is not None:
                await before()
            for row in rows:
                s.add(row)
            await s.flush()
            seq = await next_seq(s, audit_id)
            values = fields()
            if completed and after_completion_ok and values.get("type") != CORRECTIVE_ACTION:
                await s.rollback()
                raise AuditSealed(
                    f"audit {audit_id} is completed: its ledger takes only {CORRECTIVE_ACTION} entries"
                )
            body, leaf = build_entry(audit_id, seq, values)
            s.add(LedgerEntry(audit_id=audit_id, seq=seq, body=body, leaf_hash=leaf))
            await s.commit()
            return seq
        except (IntegrityError, OperationalError) as exc:
            # Another writer took the next seq, or held the database lock past the busy timeout.
            if isinstance(exc, OperationalError) and "locked" not in str(exc):
                raise
            await s.rollback()
            await asyncio.sleep(0.001 * (attempt + 1) * random.random())
    raise LedgerWriteError("could not append to the ledger: too many concurrent writers")


async def entries(s: AsyncSession, audit_id: str) -> list[LedgerEntry]:
    rows = await s.execute(
        select(LedgerEntry).where(LedgerEntry.audit_id == audit_id).order_by(LedgerEntry.seq)
    )
    return list(rows.scalars())


async def leaf_hashes(s: AsyncSession, audit_id: str) -> list[bytes]:
    rows = await s.execute(
        select(LedgerEntry.leaf_hash).where(LedgerEntry.audit_id == audit_id).order_by(LedgerEntry.seq)
    )
    return [bytes.fromhex(h) for h in rows.scalars()]


async def heads(s: AsyncSession, audit_id: str) -> list[TreeHeadRow]:
    rows = await s.execute(
        select(TreeHeadRow).where(TreeHeadRow.audit_id == audit_id).order_by(TreeHeadRow.size, TreeHeadRow.id)
    )
    return list(rows.scalars())


async def last_head(s: AsyncSession, audit_id: str) -> TreeHeadRow | None:
    rows = await s.execute(
        select(TreeHeadRow).where(TreeHeadRow.audit_id == audit_id).order_by(TreeHeadRow.id.desc()).limit(1)
    )
    return rows.scalar_one_or_none()


async def add_head(s: AsyncSession, **fields: Any) -> TreeHeadRow:
    row = TreeHeadRow(**fields)
    s.add(row)
    await s.commit()
    return row


async def entry_for_evidence(s: AsyncSession, audit_id: str, evidence_id: str) -> LedgerEntry | None:
    rows = await s.execute(
        select(LedgerEntry).where(
            LedgerEntry.audit_id == audit_id, LedgerEntry.body.contains(f'"evidence_id":"{evidence_id}"')
        )
    )
    return rows.scalars().first()
