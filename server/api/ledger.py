"""The evidence ledger over HTTP: public key, entries and tree heads, inclusion and consistency proofs."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from recorder import merkle
from server.access import granted, granted_evidence
from server.context import ctx
from server.db import ledger_repo
from server.errors import ApiError
from server.ledger_service import head_json
from server.params import strict_int
from server.policy import Action


async def public_key(request: Request) -> Response:
    """The server's Ed25519 public key (PEM): what verifiers trust tree heads with."""
    return PlainTextResponse(
        ctx(request).signer.public_pem.decode("ascii"), media_type="application/x-pem-file"
    )


async def audit_ledger(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW)).audit
    async with ctx(request).db.session() as s:
        rows = await ledger_repo.entries(s, audit.id)
        heads = await ledger_repo.heads(s, audit.id)
    return JSONResponse(
        {
            "entries": [json.loads(r.body) | {"leaf_hash": r.leaf_hash} for r in rows],
            "tree_heads": [head_json(h) for h in heads],
            "key_id": ctx(request).signer.key_id,
        }
    )


async def inclusion(request: Request) -> Response:
    """Proof that an evidence item is in its audit's ledger under the newest signed tree head."""
    _, row = await granted_evidence(request, Action.VIEW)
    app = ctx(request)
    async with app.db.session() as s:
        entry = await ledger_repo.entry_for_evidence(s, row.audit_id, row.id)
        if entry is None:
            raise ApiError(404, "not_found", "this evidence item has no ledger entry")
        leaves = await ledger_repo.leaf_hashes(s, row.audit_id)
    head = await app.signer.sign(row.audit_id)
    assert head is not None
    proof = merkle.inclusion_proof(entry.seq, leaves[: head.size])
    return JSONResponse(
        {
            "entry": json.loads(entry.body),
            "seq": entry.seq,
            "leaf_hash": entry.leaf_hash,
            "proof": [p.hex() for p in proof],
            "tree_head": head_json(head),
        }
    )


def _size(request: Request, name: str) -> int:
    value = strict_int(request.query_params.get(name, ""))
    if value is None:
        raise ApiError(400, "invalid", f"'{name}' must be a tree size")
    return value


async def consistency(request: Request) -> Response:
    """Proof that the tree of size ``to`` extends the tree of size ``from`` (both signed heads)."""
    audit = (await granted(request, Action.VIEW)).audit
    old, new = _size(request, "from"), _size(request, "to")
    async with ctx(request).db.session() as s:
        heads = {h.size: h for h in await ledger_repo.heads(s, audit.id)}
        leaves = await ledger_repo.leaf_hashes(s, audit.id)
    if old not in heads or new not in heads or not 0 < old <= new:
        raise ApiError(404, "not_found", "both sizes must be sizes of signed tree heads, from <= to")
    proof = merkle.consistency_proof(old, leaves[:new])
    body: dict[str, Any] = {
        "from": head_json(heads[old]),
        "to": head_json(heads[new]),
        "proof": [p.hex() for p in proof],
    }
    return JSONResponse(body)


routes = [
    Route("/api/ledger/public-key", public_key, methods=["GET"]),
    Route("/api/audits/{audit_id}/ledger", audit_ledger, methods=["GET"]),
    Route("/api/audits/{audit_id}/ledger/consistency", consistency, methods=["GET"]),
    Route("/api/evidence/{evidence_id}/proof", inclusion, methods=["GET"]),
]
