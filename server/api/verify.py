"""Verification over HTTP: re-check one item, find a picture by its hash, check an uploaded package."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from pathlib import Path

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from recorder import merkle
from recorder.ledger import SignedTreeHead, verify_tree_head
from recorder.verify import verify_package
from server.access import granted_evidence, require_actor
from server.context import ctx
from server.db import evidence_repo, ledger_repo
from server.db.models import Audit
from server.errors import ApiError
from server.ledger_service import head_json
from server.policy import Action, visible_audits
from server.uploads import upload_name
from server.views import evidence_json


async def verify_evidence(request: Request) -> Response:
    """Re-check one item now: file bytes against its hash, its ledger entry, the signed head, the proof."""
    _, row = await granted_evidence(request, Action.VIEW_EVIDENCE)
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
    actor = await require_actor(request)
    digest = request.path_params["sha256"].lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ApiError(400, "invalid", "give a SHA-256 as 64 hex digits")
    async with ctx(request).db.session() as s:
        rows = await evidence_repo.by_sha256(s, digest)
        ids = {r.audit_id for r in rows}
        visible = await s.scalars(select(Audit).where(Audit.id.in_(ids), visible_audits(actor)))
        audits = {a.id: a for a in visible}
    items = []
    for r in rows:
        audit = audits.get(r.audit_id)
        if audit is None:
            continue  # the caller may not know this audit exists
        items.append(
            evidence_json(r)
            | {
                "audit": {
                    "id": r.audit_id,
                    "title": audit.title,
                    "facility": audit.facility_name,
                }
            }
        )
    return JSONResponse({"sha256": digest, "items": items})


async def verify_upload(request: Request) -> Response:
    """Verify an uploaded export package on the server (the browser's verify page)."""
    await require_actor(request)
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
        name = upload_name(request.query_params.get("name"))
        async with app.verifications:
            report = await asyncio.to_thread(verify_package, path, app.signer.public_pem, name=name)
    finally:
        path.unlink(missing_ok=True)
    return JSONResponse(
        {
            "ok": report.ok,
            "problems": report.problems,
            "problems_omitted": report.problems_omitted,
            "summary": report.summary,
            "notes": report.notes,
        }
    )


MAX_VERIFY_BYTES = 4 * 1024**3
routes = [
    Route("/api/evidence/{evidence_id}/verify", verify_evidence, methods=["GET"]),
    Route("/api/evidence/by-sha256/{sha256}", find_by_hash, methods=["GET"]),
    Route("/api/verify", verify_upload, methods=["POST"]),
]
