"""HTML pages: login, audits list, auditor console, staff join page."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from server import (
    annotation_svg,
    capa,
    capa_links,
    capa_video,
    i18n,
    invite_links,
    phone_links,
    report,
    walkthrough,
)
from server.access import audit_and_facts, client_address
from server.api.audits import create_from
from server.api.certificates import review_json
from server.auth import SESSION_COOKIE, current_actor
from server.context import ctx
from server.db import certificate_repo, evidence_repo, org_repo, repo, walkthrough_repo
from server.db.models import Audit, Invite
from server.errors import ApiError
from server.phone_links import LinkProblem
from server.policy import Action, Actor, AuditFacts, Decision, can, decide
from server.tls import ca_cert_path
from server.views import audit_json, evidence_json, iso

LOGIN_WINDOW = dt.timedelta(minutes=15)
LOGIN_TRIES_PER_EMAIL = 5
LOGIN_TRIES_PER_ADDRESS = 50


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return ctx(request).templates.TemplateResponse(request, name, context, status_code=status)


def render_phone(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A facility page, in the language the browser asks for (the page may switch it)."""
    catalogues = ctx(request).catalogues
    lang = i18n.negotiate(request.headers.get("accept-language"))
    strings = catalogues.strings(lang)
    i18n_data = {"lang": lang, "languages": catalogues.names(), "strings": strings}
    context = {"user": None, "lang": lang, "strings": strings, "i18n": i18n_data} | context
    response = render(request, name, context, status)
    response.headers["Vary"] = "Accept-Language"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


# Which catalogue texts say what is wrong with a phone's link (English keeps the server's own,
# which can name the expiry time).
LINK_PROBLEM_TEXTS = {
    "link_unknown": "notFound",
    "link_revoked": "revoked",
    "link_expired": "expired",
    "audit_completed": "completed",
}


def link_problem_page(request: Request, problem: LinkProblem) -> Response:
    """Why a phone's invite link does not open, in the phone's language."""
    lang = i18n.negotiate(request.headers.get("accept-language"))
    key = LINK_PROBLEM_TEXTS.get(problem.code)
    if lang != "en" and key is not None:
        strings = ctx(request).catalogues.strings(lang)
        problem = dataclasses.replace(problem, title=strings[f"{key}Title"], message=strings[f"{key}Body"])
    # A link that was one (revoked, expired, its audit completed) shows the photos of its audit
    # left on the phone, to be saved; an unknown link shows nothing of the phone's storage.
    ended = "closed" if problem.code == "audit_completed" else "ended"
    config = {"audit_id": problem.audit_id, "ended": ended} if problem.audit_id else None
    context = {"problem": problem, "config": config}
    return render_phone(request, "phone_error.html", context, problem.status)


def safe_next(value: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/audits"


def to_login(request: Request) -> Response:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


async def home(request: Request) -> Response:
    """Members start at their supplier portfolio, everyone else at the audits."""
    actor = await current_actor(request)
    if actor is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(
        "/portfolio" if can(actor, Action.MANAGE_SUPPLIERS) else "/audits", status_code=303
    )


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
    email = str(form.get("email", ""))[:320].strip().lower()
    password = str(form.get("password", ""))[:1000]
    next_url = str(form.get("next", ""))
    app = ctx(request)
    address = client_address(request) or "-"
    async with app.db.session() as s:
        wait = await throttled_for(s, email, address)
        if wait is not None:
            minutes = max(1, round(wait / 60))
            message = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
            response = render(request, "login.html", login_context(request, message, email, next_url), 429)
            response.headers["Retry-After"] = str(wait)
            return response
        user = await repo.authenticate(s, email, password) if email and password else None
        if user is None:
            if email:
                await org_repo.add_failure(s, email, address, dt.datetime.now(dt.UTC) - LOGIN_WINDOW)
            context = login_context(request, "Wrong email or password.", email, next_url)
            return render(request, "login.html", context, status=401)
        await org_repo.clear_failures(s, email)
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


async def throttled_for(s: Any, email: str, address: str) -> int | None:
    """Seconds to wait before another sign-in may be tried, or None; costs no password hashing."""
    now = dt.datetime.now(dt.UTC)
    since = now - LOGIN_WINDOW
    by_email, by_address = await org_repo.failures_since(s, email, address, since)
    if by_email >= LOGIN_TRIES_PER_EMAIL:
        oldest = await org_repo.oldest_failure(s, email, address, since)
    elif by_address >= LOGIN_TRIES_PER_ADDRESS:
        oldest = await org_repo.oldest_failure(s, None, address, since)
    else:
        return None
    until = (oldest or now) + LOGIN_WINDOW
    return max(1, int((until - now).total_seconds()) + 1)


async def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    actor = await current_actor(request)
    if token:
        async with ctx(request).db.session() as s:
            await repo.revoke_credential(s, token)
    if actor is not None and actor.credential_id is not None:
        await ctx(request).sockets.close_credential(actor.credential_id, "you signed out")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def page_audit(request: Request, action: Action) -> tuple[Actor, Audit, AuditFacts] | Response:
    """The actor and the audit of the path if the policy allows ``action``; else the page to show."""
    actor = await current_actor(request)
    if actor is None:
        return to_login(request)
    audit_id = str(request.path_params["audit_id"])
    found = await audit_and_facts(request, audit_id) if len(audit_id) <= 64 else None
    decision = decide(actor, action, found[1]) if found else Decision.HIDDEN
    if found is None or decision is Decision.HIDDEN:
        return audit_not_found(request, actor)
    if decision is Decision.FORBIDDEN:
        context = {
            "user": user_json(actor),
            "title": "Not allowed",
            "message": f"Your role ({actor.role.value}) cannot open this page of the audit.",
        }
        return render(request, "error.html", context, 403)
    return actor, found[0], found[1]


def audit_not_found(request: Request, actor: Actor) -> Response:
    context = {
        "user": user_json(actor),
        "title": "Audit not found",
        "message": "There is no audit with this address.",
    }
    return render(request, "error.html", context, 404)


def user_json(actor: Actor) -> dict[str, Any]:
    return {
        "name": actor.name,
        "email": actor.email,
        "role": actor.role.value,
        "org": actor.org_name,
        "admin": can(actor, Action.ADMINISTER),
    }


async def audits_context(request: Request, actor: Actor) -> dict[str, Any]:
    async with ctx(request).db.session() as s:
        audits = await repo.list_audits(s, actor)
    may_create = can(actor, Action.CREATE_AUDIT)
    templates = await walkthrough.available_templates(ctx(request)) if may_create else {}
    return {
        "user": user_json(actor),
        "audits": [audit_json(a) for a in audits],
        "can_create": may_create,
        "templates": sorted(
            (
                {"key": k, "title": t.title, "version": t.version, "checkpoints": len(t.checkpoints())}
                for k, (t, _) in templates.items()
            ),
            key=lambda t: str(t["title"]),
        ),
        "default_template": walkthrough.DEFAULT_TEMPLATE,
    }


async def audits_page(request: Request) -> Response:
    actor = await current_actor(request)
    if actor is None:
        return to_login(request)
    return render(request, "audits.html", await audits_context(request, actor))


async def audits_create(request: Request) -> Response:
    actor = await current_actor(request)
    if actor is None:
        return to_login(request)
    if not can(actor, Action.CREATE_AUDIT):
        context = await audits_context(request, actor)
        context["error"] = f"Your role ({actor.role.value}) cannot create audits."
        return render(request, "audits.html", context, status=403)
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
        made = await create_from(request, actor, body)
    except ApiError as exc:
        context = await audits_context(request, actor) | {"error": exc.message, "form": dict(form)}
        return render(request, "audits.html", context, status=422)
    return RedirectResponse(f"/audits/{made.audit.id}", status_code=303)


async def console_page(request: Request) -> Response:
    found = await page_audit(request, Action.VIEW)
    if isinstance(found, Response):
        return found
    actor, audit, facts = found
    if not can(actor, Action.WATCH, facts):
        # Members and the agency read completed audits: the report is their page.
        return RedirectResponse(f"/audits/{audit.id}/report", status_code=303)
    config = {
        "audit_id": audit.id,
        "ws_path": f"/ws/audits/{audit.id}",
        "role": "auditor",
        "user_name": actor.name,
        "may_run": can(actor, Action.RUN, facts),
        "may_share": can(actor, Action.SHARE, facts),
        # Connect at once unless already completed (completing meanwhile closes with 4409).
        "completed": audit.status == "completed",
    }
    context: dict[str, Any] = {
        "user": user_json(actor),
        "audit": audit_json(audit),
        "config": config,
        "notice_warning": ctx(request).notices.warning(),
        "invites_on_loopback": invite_links.on_loopback(ctx(request).invite_base),
    }
    return render(request, "console.html", context)


async def open_phone_link(request: Request) -> tuple[Invite, Audit] | LinkProblem:
    """The invite and audit of the path's phone link, or why it does not open. An audit being
    completed this moment (its room closed, the completion not yet committed) is finished."""
    async with ctx(request).db.session() as s:
        opened = await phone_links.open_link(s, request.path_params["token"])
    if not isinstance(opened, LinkProblem) and opened[1].id in ctx(request).sockets.sealing:
        return dataclasses.replace(phone_links.COMPLETED, audit_id=opened[1].id)
    return opened


async def join_page(request: Request) -> Response:
    token = request.path_params["token"]
    opened = await open_phone_link(request)
    if isinstance(opened, LinkProblem):
        return link_problem_page(request, opened)
    audit = opened[1]
    config = {"audit_id": audit.id, "ws_path": f"/ws/audits/{audit.id}", "role": "staff", "token": token}
    return render_phone(request, "staff.html", {"audit": audit_json(audit), "config": config})


async def techcheck_page(request: Request) -> Response:
    token = request.path_params["token"]
    opened = await open_phone_link(request)
    if isinstance(opened, LinkProblem):
        return link_problem_page(request, opened)
    audit = opened[1]
    config = {"audit_id": audit.id, "token": token}
    return render_phone(request, "techcheck.html", {"audit": audit_json(audit), "config": config})


async def report_page(request: Request) -> Response:
    found = await page_audit(request, Action.VIEW)
    if isinstance(found, Response):
        return found
    actor, audit, facts = found
    app = ctx(request)
    async with app.db.session() as s:
        evidence = await evidence_repo.list_evidence(s, audit.id, limit=100_000)
        reviews = await certificate_repo.reviews(s, audit.id)
        named = await report.people(s, audit)
        drawn = await walkthrough_repo.audit_annotations(s, audit.id)
    view = await walkthrough.checkpoints_view(app.db, audit) if audit.template_snapshot else None
    by_checkpoint: dict[str, list[dict[str, Any]]] = {}
    for row in evidence:
        if row.checkpoint and row.kind != "still":
            item = evidence_json(row)
            if drawn.get(row.id):
                item["overlay"] = annotation_svg.overlay(drawn[row.id], row.width, row.height)
            by_checkpoint.setdefault(row.checkpoint, []).append(item)
    sections = []
    for section in view["sections"] if view else []:
        items = [cp | {"evidence": by_checkpoint.get(cp["key"], [])} for cp in section["checkpoints"]]
        sections.append(section | {"checkpoints": items})
    context: dict[str, Any] = {
        "user": user_json(actor),
        "may_share": can(actor, Action.SHARE, facts),
        "may_see_access_log": can(actor, Action.VIEW_ACCESS_LOG, facts),
        "audit": audit_json(audit),
        "outcome": audit.outcome,
        "sections": sections,
        "template": view["template"] if view else None,
        "people": named.to_json(),
        "consents": named.consents,
        "generated_at": iso(dt.datetime.now(dt.UTC)),
        "reviews": [review_json(r) for r in reviews],
        "corrective_actions": await capa.list_json(app, audit.id, capa_photo_url(audit.id)),
        "may_link_capa": can(actor, Action.CAPA_LINK, facts) and facts.completed,
        "may_decide_capa": can(actor, Action.DECIDE_CAPA, facts),
    }
    return render(request, "report.html", context)


def capa_photo_url(audit_id: str) -> Any:
    """A response's photo or video, read by a signed-in user (access-logged)."""

    def url(entry: Any, what: str = "photo") -> str:
        return f"/api/audits/{audit_id}/actions/{entry.action_id}/responses/{entry.id}/{what}"

    return url


def capa_link_photo_url(base: str) -> Any:
    """Photos and videos of the facility's own responses, read through its link."""

    def url(entry: Any, what: str = "photo") -> str:
        return f"{base}/{entry.action_id}/responses/{entry.id}/{what}"

    return url


async def capa_page(request: Request) -> Response:
    """The facility's page of corrective actions (no sign-in: the link's token is the key)."""
    app = ctx(request)
    token = str(request.path_params["token"])
    try:
        _, audit = await capa_links.valid_link(app, token)
    except ApiError:
        message = "This link is invalid or was revoked. Ask your auditor for a new one."
        return render(
            request, "error.html", {"title": "Link not valid", "message": message, "user": None}, 404
        )
    base = f"/api/capa/{token}/actions"
    items = await capa.list_json(app, audit.id, capa_link_photo_url(base))
    async with app.db.session() as s:
        originals = await capa_links.with_originals(s, audit.id)
    for item in items:
        item["original"] = f"{base}/{item['id']}/original" if item["checkpoint"] in originals else None
    context = {
        "user": None,
        "audit": audit_json(audit),
        "actions": items,
        "post_base": base,
        "video_seconds": capa_video.MAX_SECONDS,
        "video_mb": capa_video.MAX_BYTES // (1024 * 1024),
    }
    return render_phone(request, "capa.html", context)


async def replay_page(request: Request) -> Response:
    found = await page_audit(request, Action.VIEW_EVIDENCE)
    if isinstance(found, Response):
        return found
    actor, audit, _ = found
    config = {"audit_id": audit.id, "manifest_url": f"/api/audits/{audit.id}/replay"}
    return render(
        request, "replay.html", {"user": user_json(actor), "audit": audit_json(audit), "config": config}
    )


async def verify_page(request: Request) -> Response:
    actor = await current_actor(request)
    if actor is None:
        return to_login(request)
    return render(request, "verify.html", {"user": user_json(actor)})


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
    Route("/capa/{token}", capa_page),
    Route("/audits/{audit_id}/report", report_page),
    Route("/audits/{audit_id}/replay", replay_page),
    Route("/verify", verify_page),
    Route("/certs/ca.pem", ca_certificate),
    Route("/healthz", healthz),
]
