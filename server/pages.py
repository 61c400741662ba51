"""HTML pages: login, audits list, auditor console, staff join page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from server import walkthrough
from server.api.audits import parse_new_audit, with_template
from server.api.common import audit_json, iso
from server.api.evidence import evidence_json
from server.auth import SESSION_COOKIE, current_user
from server.context import ctx
from server.db import evidence_repo, repo, walkthrough_repo
from server.db.models import Audit, User
from server.errors import ApiError
from server.tls import ca_cert_path

INVITE_GONE = "This invite link has expired or was revoked. Ask the auditor for a new one."


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return ctx(request).templates.TemplateResponse(request, name, context, status_code=status)


def safe_next(value: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/audits"


def to_login(request: Request) -> Response:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


async def home(request: Request) -> Response:
    return RedirectResponse("/audits" if await current_user(request) else "/login", status_code=303)


async def login_page(request: Request) -> Response:
    return render(request, "login.html", login_context(request, None, "", request.query_params.get("next")))


def login_context(request: Request, error: str | None, email: str, next_url: str | None) -> dict[str, Any]:
    app = ctx(request)
    return {
        "user": None,
        "error": error,
        "email": email,
        "next": safe_next(next_url),
        "ca_available": app.settings.tls and ca_cert_path(app.settings).exists(),
    }


async def login_submit(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", ""))[:320]
    password = str(form.get("password", ""))[:1000]
    next_url = str(form.get("next", ""))
    app = ctx(request)
    async with app.db.session() as s:
        user = await repo.authenticate(s, email, password) if email and password else None
        if user is None:
            context = login_context(request, "Wrong email or password.", email, next_url)
            return render(request, "login.html", context, status=401)
        lifetime = dt.timedelta(hours=app.settings.session_hours)
        issued = await repo.issue_credential(s, user, "session", lifetime)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=app.settings.tls,
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with ctx(request).db.session() as s:
            await repo.revoke_credential(s, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def page_audit(request: Request) -> tuple[User, Audit] | Response:
    """The signed-in auditor and the audit of the path, or the page to show instead."""
    user = await current_user(request)
    if user is None:
        return to_login(request)
    async with ctx(request).db.session() as s:
        audit = await repo.get_audit(s, request.path_params["audit_id"])
    if audit is None:
        return audit_not_found(request, user)
    return user, audit


def audit_not_found(request: Request, user: User) -> Response:
    context = {
        "user": user_json(user),
        "title": "Audit not found",
        "message": "There is no audit with this address.",
    }
    return render(request, "error.html", context, 404)


def user_json(user: User) -> dict[str, str]:
    return {"name": user.name, "email": user.email}


async def audits_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    async with ctx(request).db.session() as s:
        audits = await repo.list_audits(s)
    return render(
        request, "audits.html", {"user": user_json(user), "audits": [audit_json(a) for a in audits]}
    )


async def audits_create(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    form = await request.form()
    body = {
        "title": form.get("title") or None,
        "template": form.get("template") or None,
        "facility": {
            "name": form.get("facility_name"),
            "country": form.get("country"),
            "address": form.get("address") or None,
        },
    }
    try:
        fields = await with_template(request, parse_new_audit(body))
    except ApiError as exc:
        async with ctx(request).db.session() as s:
            audits = await repo.list_audits(s)
        context = {"user": user_json(user), "audits": [audit_json(a) for a in audits], "error": exc.message}
        return render(request, "audits.html", context, status=422)
    async with ctx(request).db.session() as s:
        audit = await repo.create_audit(s, user, **fields)
    return RedirectResponse(f"/audits/{audit.id}", status_code=303)


async def console_page(request: Request) -> Response:
    found = await page_audit(request)
    if isinstance(found, Response):
        return found
    user, audit = found
    config = {
        "audit_id": audit.id,
        "ws_path": f"/ws/audits/{audit.id}",
        "role": "auditor",
        "user_name": user.name,
    }
    return render(
        request, "console.html", {"user": user_json(user), "audit": audit_json(audit), "config": config}
    )


async def join_page(request: Request) -> Response:
    token = request.path_params["token"]
    async with ctx(request).db.session() as s:
        invite = await repo.valid_invite(s, token) if len(token) <= 200 else None
        audit = await repo.get_audit(s, invite.audit_id) if invite else None
    if invite is None or audit is None or audit.status != "open":
        context = {
            "user": None,
            "title": "This link no longer works",
            "message": INVITE_GONE,
        }
        return render(request, "error.html", context, 410)
    config = {"audit_id": audit.id, "ws_path": f"/ws/audits/{audit.id}", "role": "staff", "token": token}
    response = render(request, "staff.html", {"user": None, "audit": audit_json(audit), "config": config})
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def techcheck_page(request: Request) -> Response:
    token = request.path_params["token"]
    async with ctx(request).db.session() as s:
        invite = await repo.valid_invite(s, token) if len(token) <= 200 else None
        audit = await repo.get_audit(s, invite.audit_id) if invite else None
    if invite is None or audit is None:
        context = {"user": None, "title": "This link no longer works", "message": INVITE_GONE}
        return render(request, "error.html", context, 410)
    config = {"audit_id": audit.id, "token": token}
    response = render(request, "techcheck.html", {"user": None, "audit": audit_json(audit), "config": config})
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def report_page(request: Request) -> Response:
    found = await page_audit(request)
    if isinstance(found, Response):
        return found
    user, audit = found
    app = ctx(request)
    async with app.db.session() as s:
        evidence = await evidence_repo.list_evidence(s, audit.id, limit=100_000)
        consents = await walkthrough_repo.consents(s, audit.id)
    view = await walkthrough.checkpoints_view(app.db, audit) if audit.template_snapshot else None
    by_checkpoint: dict[str, list[dict[str, Any]]] = {}
    for row in evidence:
        if row.checkpoint and row.kind != "still":
            by_checkpoint.setdefault(row.checkpoint, []).append(evidence_json(row))
    sections = []
    for section in view["sections"] if view else []:
        items = [cp | {"evidence": by_checkpoint.get(cp["key"], [])} for cp in section["checkpoints"]]
        sections.append(section | {"checkpoints": items})
    context: dict[str, Any] = {
        "user": user_json(user),
        "audit": audit_json(audit),
        "outcome": audit.outcome,
        "sections": sections,
        "template": view["template"] if view else None,
        "consents": [{"actor": c.actor, "role": c.role, "accepted_at": iso(c.accepted_at)} for c in consents],
        "generated_at": iso(dt.datetime.now(dt.UTC)),
    }
    return render(request, "report.html", context)


async def replay_page(request: Request) -> Response:
    found = await page_audit(request)
    if isinstance(found, Response):
        return found
    user, audit = found
    config = {"audit_id": audit.id, "manifest_url": f"/api/audits/{audit.id}/replay"}
    return render(
        request, "replay.html", {"user": user_json(user), "audit": audit_json(audit), "config": config}
    )


async def verify_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    return render(request, "verify.html", {"user": user_json(user)})


async def ca_certificate(request: Request) -> Response:
    path = ca_cert_path(ctx(request).settings)
    if not ctx(request).settings.tls or not path.exists():
        return PlainTextResponse("no development CA on this server", status_code=404)
    return FileResponse(path, media_type="application/x-x509-ca-cert", filename="virtual-audit-dev-ca.pem")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


routes = [
    Route("/", home),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/audits", audits_page, methods=["GET"]),
    Route("/audits", audits_create, methods=["POST"]),
    Route("/audits/{audit_id}", console_page),
    Route("/join/{token}", join_page),
    Route("/join/{token}/check", techcheck_page),
    Route("/audits/{audit_id}/report", report_page),
    Route("/audits/{audit_id}/replay", replay_page),
    Route("/verify", verify_page),
    Route("/certs/ca.pem", ca_certificate),
    Route("/healthz", healthz),
]
