"""Signs the evidence ledgers' tree heads: every 10 s while an audit is live, and at completion."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder import merkle
from recorder.ledger import SignedTreeHead, key_id, load_or_create_signing_key, public_key_pem, sign_tree_head
from server.db import ledger_repo
from server.db.engine import Database
from server.db.models import TreeHeadRow
from server.media.hub import Hub

log = logging.getLogger(__name__)

SIGN_INTERVAL_S = 10.0
KEY_FILE = "ledger-signing-key.pem"


def head_json(row: TreeHeadRow) -> dict[str, object]:
    return {
        "v": 1,
        "audit": row.audit_id,
        "size": row.size,
        "root": row.root,
        "timestamp_ms": row.timestamp_ms,
        "key_id": row.key_id,
        "signature": row.signature,
    }


class LedgerSigner:
    """Holds the server's Ed25519 key and signs tree heads for audits that grew."""

    def __init__(self, db: Database, key: Ed25519PrivateKey) -> None:
        self.db = db
        self.key = key
        self.public_pem = public_key_pem(key)
        self.key_id = key_id(key.public_key())
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, db: Database, data_dir: Path) -> LedgerSigner:
        key = await asyncio.to_thread(load_or_create_signing_key, data_dir / KEY_FILE)
        return cls(db, key)

    async def sign(self, audit_id: str) -> TreeHeadRow | None:
        """Sign a head over the whole ledger if it grew since the last head; returns the newest head."""
        async with self.db.session() as s:
            leaves = await ledger_repo.leaf_hashes(s, audit_id)
            last = await ledger_repo.last_head(s, audit_id)
            if last is not None and last.size == len(leaves):
                return last
            root = await asyncio.to_thread(merkle.root, leaves)
            sth: SignedTreeHead = sign_tree_head(
                self.key, audit_id, len(leaves), root, int(time.time() * 1000)
            )
            data = sth.to_json()
            return await ledger_repo.add_head(
                s,
                audit_id=audit_id,
                size=sth.head.size,
                root=sth.head.root.hex(),
                timestamp_ms=sth.head.timestamp_ms,
                signature=str(data["signature"]),
                key_id=sth.key_id,
            )

    def start(self, hub: Hub) -> None:
        self._task = asyncio.create_task(self._run(hub))

    async def _run(self, hub: Hub) -> None:
        while True:
            await asyncio.sleep(SIGN_INTERVAL_S)
            for audit_id in list(hub.rooms):
                try:
                    await self.sign(audit_id)
                except Exception:  # one audit's failure must not stop the others' heads
                    log.exception("could not sign the tree head of audit %s", audit_id)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
