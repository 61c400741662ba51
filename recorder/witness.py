"""What a witness signs: a repository head it checked is consistent with every head it saw before.

The cosigned bytes are the canonical JSON of
``{"v": 1, "type": "cosignature", "log": "repository", "log_key_id", "size", "root", "timestamp_ms"}``
(docs/ledger.md, "Witnesses"); the signature is Ed25519 with the witness's own key.
"""

from __future__ import annotations

from typing import Any

from recorder.certificate import REPOSITORY_LOG
from recorder.ledger import VERSION, canonical_json


def cosigned_bytes(head: dict[str, Any]) -> bytes:
    """The bytes a witness signs for a signed repository head (as the API gives it)."""
    return canonical_json(
        {
            "v": VERSION,
            "type": "cosignature",
            "log": REPOSITORY_LOG,
            "log_key_id": head["key_id"],
            "size": head["size"],
            "root": head["root"],
            "timestamp_ms": head["timestamp_ms"],
        }
    )
