"""The public page of a certificate: what anyone holding its QR code can check, signed in or not.

It shows the facility, the firm, the dates, the rule and the live state; never findings,
evidence or people.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import certificates
from server.api.audits import qr_svg
from server.context import ctx
from server.db import certificate_repo, repository_repo
from server.pages import render

STATE_LABELS = {
    "valid": "Valid",
    "expired": "Expired",
    "revoked": "Revoked",
    "superseded": "Superseded by a newer certificate",
}


def page_url(request: Request, certificate_id: str) -> str:
    base = ctx(request).settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/certificates/{certificate_id}"


async def certificate_page(request: Request) -> Response:
    certificate_id = str(request.path_params["certificate_id"])
    app = ctx(request)
    async with app.db.session() as s:
        cert = await certificate_repo.get(s, certificate_id)
        trusted = app.settings.trusted_witnesses
        witnesses = await repository_repo.witnesses_covering(s, cert.repository_seq, trusted) if cert else 0
    if cert is None:
        message = "There is no certificate with this number. Check the address or the QR code."
        return render(
            request, "error.html", {"title": "Certificate not found", "message": message, "user": None}, 404
        )
    doc = certificates.document_of(cert)
    state = certificates.live_state(cert)
    url = page_url(request, cert.id)
    context = {
        "user": None,
        "doc": doc,
        "state": state,
        "state_label": STATE_LABELS[state],
        "url": url,
        "qr": qr_svg(url),
        "witnesses": witnesses,
        "file_url": f"/api/certificates/{cert.id}",
    }
    return render(request, "certificate.html", context)


routes = [Route("/certificates/{certificate_id}", certificate_page, methods=["GET"])]
