"""Witnesses' cosignatures of repository heads, as the server receives and shows them."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from recorder.ledger import LedgerError, key_id, load_public_key
from recorder.witness import cosigned_bytes
from server.api.common import read_json
from server.context import ctx
from server.db import repository_repo
from server.db.models import Cosignature
from server.errors import ApiError
from server.repository_log import repository_head_json


def cosignature_json(row: Cosignature) -> dict[str, Any]:
    return {
        "size": row.size,
        "root": row.root,
        "timestamp_ms": row.timestamp_ms,
        "witness_key_id": row.witness_key_id,
        "witness_public_key": row.witness_public_key,
        "signature": row.signature,
    }


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid", message)


MAX_COSIGNATURES_PER_HEAD = 100  # anyone may post one: a bound on what a head can cost in storage


async def add_cosignature(request: Request) -> Cosignature:
    """Check a posted cosignature against the signed head of its size and the witness's key; keep it."""
    body = await read_json(request)
    size, pem, signature = body.get("size"), body.get("public_key"), body.get("signature")
    if (
        not isinstance(size, int)
        or isinstance(size, bool)
        or not 0 <= size < 2**31
        or not isinstance(pem, str)
        or not isinstance(signature, str)
        or len(pem) > 1000
        or len(signature) > 200
    ):
        raise _invalid("send 'size' (integer), 'public_key' (PEM) and 'signature' (base64)")
    app = ctx(request)
    async with app.db.session() as s:
        head = await repository_repo.head_of_size(s, size)
        cosigned = len(await repository_repo.cosignatures(s, size)) if head else 0
    if head is None:
        raise ApiError(404, "not_found", f"no signed repository head of size {size}")
    if cosigned >= MAX_COSIGNATURES_PER_HEAD:
        raise ApiError(409, "too_many_cosignatures", f"this head has {cosigned} cosignatures, the most kept")
    try:
        key = load_public_key(pem.encode("ascii", "replace"))
        key.verify(base64.b64decode(signature, validate=True), cosigned_bytes(repository_head_json(head)))
    except LedgerError as exc:
        raise _invalid(f"'public_key': {exc}") from exc
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise _invalid(f"the signature does not verify for the head of size {size} with that key") from exc
    row = Cosignature(
        size=head.size,
        root=head.root,
        timestamp_ms=head.timestamp_ms,
        witness_key_id=key_id(key),
        witness_public_key=pem,
        signature=signature,
    )
    async with app.db.session() as s:
        s.add(row)
        try:
            await s.commit()
        except IntegrityError:
            raise ApiError(409, "conflict", "this witness already cosigned this head") from None
    return row
