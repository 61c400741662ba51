"""The repository log over HTTP: signed heads and proofs for anyone, entries for admins and the agency."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder import merkle
from server.access import require
from server.context import ctx
from server.db import repository_repo
from server.errors import ApiError
from server.params import path_int, query_int, strict_int
from server.policy import Action
from server.repository_log import repository_head_json
from server.witness import add_cosignature, cosignature_json

PAGE = 500


async def head(request: Request) -> Response:
    app = ctx(request)
    row = await app.repository.head()
    async with app.db.session() as s:
        cosigned = await repository_repo.cosignatures(s, row.size)
    settings = app.settings
    signed = [cosignature_json(c) | {"trusted": settings.witness_counts(c.witness_key_id)} for c in cosigned]
    return JSONResponse(repository_head_json(row) | {"cosignatures": signed})


async def list_entries(request: Request) -> Response:
    await require(request, Action.READ_REPOSITORY)
    start = query_int(request, "from", 0, 0, 2**31)
    limit = query_int(request, "limit", PAGE, 1, PAGE)
    async with ctx(request).db.session() as s:
        rows = await repository_repo.entries(s, start - 1, limit)
    items = [json.loads(r.body) | {"leaf_hash": r.leaf_hash} for r in rows]
    return JSONResponse({"items": items, "next": items[-1]["seq"] + 1 if len(items) == limit else None})


async def inclusion(request: Request) -> Response:
    """Proof that entry ``seq`` is in the log under the newest signed head (its leaf hash, not its body)."""
    seq = path_int(request, "seq", "repository entry")
    app = ctx(request)
    row = await app.repository.head()
    if seq >= row.size:
        row = await app.repository.sign()
    async with app.db.session() as s:
        leaves = await repository_repo.leaf_hashes(s)
    if seq >= row.size:
        raise ApiError(404, "not_found", f"no repository entry {seq}")
    proof = merkle.inclusion_proof(seq, leaves[: row.size])
    body: dict[str, Any] = {
        "seq": seq,
        "leaf_hash": leaves[seq].hex(),
        "proof": [p.hex() for p in proof],
        "tree_head": repository_head_json(row),
    }
    return JSONResponse(body)


def _size(request: Request, name: str) -> int:
    value = strict_int(request.query_params.get(name, ""))
    if value is None:
        raise ApiError(400, "invalid", f"'{name}' must be a tree size")
    return value


async def consistency(request: Request) -> Response:
    """Proof that the log at size ``to`` extends the log at size ``from`` (both signed heads)."""
    old, new = _size(request, "from"), _size(request, "to")
    async with ctx(request).db.session() as s:
        old_head = await repository_repo.head_of_size(s, old)
        new_head = await repository_repo.head_of_size(s, new)
        leaves = await repository_repo.leaf_hashes(s)
    if old_head is None or new_head is None or old > new:
        raise ApiError(404, "not_found", "both sizes must be sizes of signed repository heads, from <= to")
    proof = merkle.consistency_proof(old, leaves[:new])
    return JSONResponse(
        {
            "from": repository_head_json(old_head),
            "to": repository_head_json(new_head),
            "proof": [p.hex() for p in proof],
        }
    )


async def cosign(request: Request) -> Response:
    """A witness's cosignature of a signed head (checked against the head and the witness's key)."""
    row = await add_cosignature(request)
    return JSONResponse(cosignature_json(row), status_code=201)


routes = [
    Route("/api/repository/head", head, methods=["GET"]),
    Route("/api/repository/entries", list_entries, methods=["GET"]),
    Route("/api/repository/proof/{seq}", inclusion, methods=["GET"]),
    Route("/api/repository/consistency", consistency, methods=["GET"]),
    Route("/api/repository/cosignatures", cosign, methods=["POST"]),
]
