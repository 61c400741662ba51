"""The repository log: one append-only RFC 9162 log for the whole repository.

Every audit's final signed tree head, every review decision, every certificate version
(issued, superseded, revoked) and every share and unshare is an entry. Its signed heads
are public, so anyone can hold the server to what it published: an audit or a
certificate cannot be altered or withdrawn without the log showing it (docs/ledger.md,
"The repository log").

Appends are serialised by one lock (the server is one process); the rows that go with an
entry are written in the same transaction, and a new head is signed after each append.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from recorder import merkle
from recorder.certificate import REPOSITORY_LOG
from recorder.ledger import VERSION, canonical_json, sign_tree_head, utc_ms
from server.db import ledger_repo, repository_repo
from server.db.engine import Database
from server.db.models import RepositoryEntry, RepositoryHead
from server.ledger_service import LedgerSigner, head_json

T = TypeVar("T")


def repository_head_json(row: RepositoryHead) -> dict[str, Any]:
    return {
        "v": VERSION,
        "audit": REPOSITORY_LOG,
        "size": row.size,
        "root": row.root,
        "timestamp_ms": row.timestamp_ms,
        "key_id": row.key_id,
        "signature": row.signature,
    }


def entry_row(seq: int, fields: dict[str, Any]) -> RepositoryEntry:
    """The row of one entry: ``v``, ``seq`` and ``at`` added to ``fields``, canonical JSON."""
    body = canonical_json({"v": VERSION, "seq": seq, "at": utc_ms(dt.datetime.now(dt.UTC)), **fields})
    return RepositoryEntry(
        seq=seq, type=str(fields["type"]), body=body.decode("utf-8"), leaf_hash=merkle.leaf_hash(body).hex()
    )


class Batch:
    """The entries one ``record`` call appends, numbered as they are added."""

    def __init__(self, s: AsyncSession, next_seq: int) -> None:
        self.s = s
        self.next_seq = next_seq

    def add(self, fields: dict[str, Any]) -> int:
        row = entry_row(self.next_seq, fields)
        self.s.add(row)
        self.next_seq += 1
        return row.seq


class RepositoryLog:
    """Appends entries and signs heads with the server's ledger key."""

    def __init__(self, db: Database, signer: LedgerSigner) -> None:
        self.db = db
        self.signer = signer
        self._lock = asyncio.Lock()

    async def record(self, work: Callable[[AsyncSession, Batch], Awaitable[T]]) -> T:
        """Run ``work``; commit its changes with the entries it adds to the batch, then sign a head."""
        async with self._lock:
            async with self.db.session() as s:
                batch = Batch(s, await repository_repo.next_seq(s))
                result = await work(s, batch)
                await s.commit()
            await self.sign()
        return result

    async def append(self, fields: dict[str, Any]) -> int:
        """Append one entry on its own; returns its seq."""

        async def work(s: AsyncSession, batch: Batch) -> int:
            return batch.add(fields)

        return await self.record(work)

    async def sign(self) -> RepositoryHead:
        """Sign a head over the whole log if it grew since the last one; returns the newest head."""
        async with self.db.session() as s:
            leaves = await repository_repo.leaf_hashes(s)
            last = await repository_repo.last_head(s)
            if last is not None and last.size == len(leaves):
                return last
            root = await asyncio.to_thread(merkle.root, leaves)
            sth = sign_tree_head(self.signer.key, REPOSITORY_LOG, len(leaves), root, int(time.time() * 1000))
            row = RepositoryHead(
                size=len(leaves),
                root=root.hex(),
                timestamp_ms=sth.head.timestamp_ms,
                signature=str(sth.to_json()["signature"]),
                key_id=sth.key_id,
            )
            s.add(row)
            await s.commit()
            return row

    async def head(self) -> RepositoryHead:
        """The newest signed head (signing one over the empty log at first)."""
        async with self.db.session() as s:
            last = await repository_repo.last_head(s)
        return last if last is not None else await self.sign()

    async def record_completion(self, audit_id: str) -> None:
        """Publish a completed audit's final signed tree head (called by ``seal``)."""
        async with self.db.session() as s:
            final = await ledger_repo.last_head(s, audit_id)
        if final is not None:
            await self.append({"type": "audit", "audit": audit_id, "tree_head": head_json(final)})

    async def record_share(self, audit_id: str, org_id: str, actor: str, shared: bool) -> None:
        kind = "share" if shared else "unshare"
        await self.append({"type": kind, "audit": audit_id, "org": org_id, "by": actor})
