"""Reviews of completed audits, and certificates: issue (by review), revoke, the public document."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from server import certificates
from server.access import granted, require
from server.api.common import read_json, text_field
from server.context import ctx
from server.db import certificate_repo
from server.db.models import Certificate, Review
from server.errors import ApiError
from server.policy import Action
from server.views import iso

MAX_COMMENT = 4000


def review_json(row: Review) -> dict[str, Any]:
    return {
        "id": row.id,
        "decision": row.decision,
        "comment": row.comment,
        "reviewer": {"id": row.reviewer_id, "name": row.reviewer_name},
        "at": iso(row.created_at),
        "repository_seq": row.repository_seq,
    }


def certificate_summary(cert: Certificate) -> dict[str, Any]:
    doc = certificates.document_of(cert)
    return {
        "id": cert.id,
        "state": certificates.live_state(cert),
        "issued": doc["issued"],
        "expires": doc["expires"],
        "url": f"/certificates/{cert.id}",
    }


async def review(request: Request) -> Response:
    """A reviewer of the firm accepts the completed audit, or returns it to the auditor."""
    g = await granted(request, Action.REVIEW)
    if not g.facts.completed:
        raise ApiError(409, "not_completed", "only a completed audit can be reviewed")
    body = await read_json(request)
    decision = body.get("decision")
    if decision not in certificates.DECISIONS:
        raise ApiError(422, "invalid", "'decision' must be 'accept' or 'return'")
    comment = text_field(body, "comment", limit=MAX_COMMENT, required=decision == "return")
    row, cert = await certificates.review(ctx(request), g.audit.id, g.actor, str(decision), comment)
    answer = {"review": review_json(row), "certificate": certificate_summary(cert) if cert else None}
    return JSONResponse(answer, status_code=201)


async def list_reviews(request: Request) -> Response:
    audit = (await granted(request, Action.VIEW)).audit
    async with ctx(request).db.session() as s:
        rows = await certificate_repo.reviews(s, audit.id)
    return JSONResponse({"items": [review_json(r) for r in rows]})


async def public_key(request: Request) -> Response:
    """The key certificates and repository heads are signed with (the server's ledger key)."""
    return PlainTextResponse(
        ctx(request).signer.public_pem.decode("ascii"), media_type="application/x-pem-file"
    )


async def find(request: Request) -> Certificate:
    certificate_id = str(request.path_params["certificate_id"])
    async with ctx(request).db.session() as s:
        cert = await certificate_repo.get(s, certificate_id)
    if cert is None:
        raise ApiError(404, "not_found", f"no certificate {certificate_id!r}")
    return cert


async def get_certificate(request: Request) -> Response:
    """The signed certificate file, for anyone: what ``verify-certificate`` checks offline."""
    cert = await find(request)
    return JSONResponse(await certificates.certificate_file(ctx(request), cert))


async def revoke(request: Request) -> Response:
    await require(request, Action.REVOKE_CERTIFICATE)
    cert = await find(request)
    reason = text_field(await read_json(request), "reason", limit=MAX_COMMENT, required=True)
    assert reason is not None
    cert = await certificates.revoke(ctx(request), cert.id, reason)
    return JSONResponse(certificate_summary(cert))


routes = [
    Route("/api/audits/{audit_id}/review", review, methods=["POST"]),
    Route("/api/audits/{audit_id}/reviews", list_reviews, methods=["GET"]),
    Route("/api/certificates/public-key", public_key, methods=["GET"]),
    Route("/api/certificates/{certificate_id}", get_certificate, methods=["GET"]),
    Route("/api/certificates/{certificate_id}/revoke", revoke, methods=["POST"]),
]
