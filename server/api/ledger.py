"""The evidence ledger over HTTP: public key, entries and tree heads, inclusion and consistency proofs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from recorder import merkle
from recorder.ledger import SignedTreeHead, verify_tree_head
from recorder.verify import verify_package
from server.api.audits import load_audit
from server.api.common import require_user
from server.api.evidence import _evidence, evidence_json
from server.context import ctx
from server.db import evidence_repo, ledger_repo, repo
from server.errors import ApiError
from server.export import ExportError, build_export
from server.ledger_service import head_json
from server.replay import playable_segment, replay_manifest


async def public_key(request: Request) -> Response:
    """The server's Ed25519 public key (PEM): what verifiers trust tree heads with."""
    return PlainTextResponse(
        ctx(request).signer.public_pem.decode("ascii"), media_type="application/x-pem-file"
    )


async def audit_ledger(request: Request) -> Response:
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
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
    await require_user(request)
    row = await _evidence(request)
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
    raw = request.query_params.get(name, "")
    if not raw.isdigit():
        raise ApiError(400, "invalid", f"'{name}' must be a tree size")
    return int(raw)


async def consistency(request: Request) -> Response:
    """Proof that the tree of size ``to`` extends the tree of size ``from`` (both signed heads)."""
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
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


async def export(request: Request) -> Response:
    """The audit's self-contained, verifiable package (a zip)."""
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
    app = ctx(request)
    tmp = app.settings.scratch_dir
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / f"export-{uuid.uuid4()}.zip"
    try:
        await build_export(app.db, app.recorders.store, app.signer, app.templates, audit.id, out)
    except ExportError as exc:
        out.unlink(missing_ok=True)
        raise ApiError(409, "export_failed", str(exc)) from exc
    name = f"virtual-audit-{audit.id}.zip"
    return FileResponse(
        out,
        media_type="application/zip",
        filename=name,
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


routes.append(Route("/api/audits/{audit_id}/export", export, methods=["GET"]))


async def replay(request: Request) -> Response:
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
    return JSONResponse(await replay_manifest(ctx(request).db, audit.id))


async def replay_segment(request: Request) -> Response:
    await require_user(request)
    audit = await load_audit(request, request.path_params["audit_id"])
    app = ctx(request)
    async with app.db.session() as s:
        row = await evidence_repo.get_segment(s, audit.id, request.path_params["seq"])
    if row is None:
        raise ApiError(404, "not_found", "no such segment")
    try:
        path, media = await playable_segment(app.recorders.store, row)
    except FileNotFoundError as exc:
        raise ApiError(410, "gone", "the segment file is missing from the store") from exc
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


async def verify_evidence(request: Request) -> Response:
    """Re-check one item now: file bytes against its hash, its ledger entry, the signed head, the proof."""
    await require_user(request)
    row = await _evidence(request)
    app = ctx(request)
    path = app.recorders.store.path(row.blob)
    file_ok = path is not None and path.exists() and await asyncio.to_thread(_sha256_file, path) == row.sha256
    async with app.db.session() as s:
        entry = await ledger_repo.entry_for_evidence(s, row.audit_id, row.id)
        leaves = await ledger_repo.leaf_hashes(s, row.audit_id)
    head = await app.signer.sign(row.audit_id)
    checks: dict[str, bool] = {"file_matches_hash": file_ok, "in_ledger": entry is not None}
    if entry is not None and head is not None:
        body = json.loads(entry.body)
        checks["ledger_hash_matches"] = body.get("sha256") == row.sha256
        sth = SignedTreeHead.from_json(head_json(head))
        checks["tree_head_signed"] = verify_tree_head(sth, app.signer.key.public_key())
        proof = merkle.inclusion_proof(entry.seq, leaves[: head.size])
        checks["inclusion_proof"] = merkle.verify_inclusion(
            bytes.fromhex(entry.leaf_hash), entry.seq, head.size, proof, sth.head.root
        )
    return JSONResponse(
        {"id": row.id, "verified": all(checks.values()) and len(checks) == 5, "checks": checks}
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def find_by_hash(request: Request) -> Response:
    """Which audit, checkpoint and time a picture with this SHA-256 belongs to (the verify page)."""
    await require_user(request)
    digest = request.path_params["sha256"].lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ApiError(400, "invalid", "give a SHA-256 as 64 hex digits")
    async with ctx(request).db.session() as s:
        rows = await evidence_repo.by_sha256(s, digest)
        audits = {r.audit_id: await repo.get_audit(s, r.audit_id) for r in rows}
    items = []
    for r in rows:
        audit = audits.get(r.audit_id)
        items.append(
            evidence_json(r)
            | {
                "audit": {
                    "id": r.audit_id,
                    "title": audit.title if audit else None,
                    "facility": audit.facility_name if audit else None,
                }
            }
        )
    return JSONResponse({"sha256": digest, "items": items})


routes += [
    Route("/api/audits/{audit_id}/replay", replay, methods=["GET"]),
    Route("/api/audits/{audit_id}/replay/segments/{seq:int}", replay_segment, methods=["GET"]),
    Route("/api/evidence/{evidence_id}/verify", verify_evidence, methods=["GET"]),
    Route("/api/evidence/by-sha256/{sha256}", find_by_hash, methods=["GET"]),
]


async def verify_upload(request: Request) -> Response:
    """Verify an uploaded export package on the server (the browser's verify page)."""
    await require_user(request)
    app = ctx(request)
    tmp = app.settings.scratch_dir
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"verify-{uuid.uuid4()}.zip"
    size = 0
    try:
        with path.open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_VERIFY_BYTES:
                    raise ApiError(
                        413, "too_large", "packages over 4 GB must be verified with 'virtual-audit verify'"
                    )
                await asyncio.to_thread(f.write, chunk)
        report = await asyncio.to_thread(verify_package, path, app.signer.public_pem)
    finally:
        path.unlink(missing_ok=True)
    return JSONResponse(
        {"ok": report.ok, "problems": report.problems, "summary": report.summary, "notes": report.notes}
    )


MAX_VERIFY_BYTES = 4 * 1024**3
routes.append(Route("/api/verify", verify_upload, methods=["POST"]))
