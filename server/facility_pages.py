"""Pages of the facility registry and of a member's suppliers: search, a facility, the portfolio,
its CSV and the printable attestation a member hands its customs specialist."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import facilities
from server.api.audits import qr_svg
from server.api.facilities import search_terms
from server.auth import current_actor
from server.certificate_page import STATE_LABELS, page_url
from server.context import ctx
from server.db import facility_repo
from server.pages import render, to_login, user_json
from server.policy import Action, Actor, can
from server.views import audit_json

STATUS_LABELS = STATE_LABELS | {"none": "Not certified"}


async def allowed(request: Request, action: Action) -> Actor | Response:
    """The signed-in actor if the policy lets them do ``action``; else the page to show instead."""
    actor = await current_actor(request)
    if actor is None:
        return to_login(request)
    if not can(actor, action):
        message = f"Your role ({actor.role.value}) cannot open this page."
        return render(
            request, "error.html", {"user": user_json(actor), "title": "Not allowed", "message": message}, 403
        )
    return actor


async def facilities_page(request: Request) -> Response:
    actor = await allowed(request, Action.VIEW_FACILITIES)
    if isinstance(actor, Response):
        return actor
    q, country = search_terms(request)
    async with ctx(request).db.session() as s:
        rows = await facility_repo.search(s, q, country)
        certs = await facility_repo.certificates_of(s, [r.id for r in rows])
    context: dict[str, Any] = {
        "user": user_json(actor),
        "q": q or "",
        "country": country or "",
        "facilities": [facilities.facility_json(r, certs.get(r.id)) for r in rows],
        "status_labels": STATUS_LABELS,
        "may_link": can(actor, Action.MANAGE_SUPPLIERS),
    }
    return render(request, "facilities.html", context)


async def facility_page(request: Request) -> Response:
    actor = await allowed(request, Action.VIEW_FACILITIES)
    if isinstance(actor, Response):
        return actor
    facility_id = str(request.path_params["facility_id"])
    async with ctx(request).db.session() as s:
        row = await facility_repo.get(s, facility_id)
        if row is not None:
            cert = (await facility_repo.certificates_of(s, [row.id])).get(row.id)
            audits = await facility_repo.history(s, row.id, actor)
            linked = any(f.id == row.id for f in await facility_repo.suppliers(s, actor.org_id))
            due = (await facility_repo.open_actions(s, [row.id], actor)).get(row.id, [])
    today = dt.datetime.now(dt.UTC).date()
    if row is None:
        missing = {
            "user": user_json(actor),
            "title": "Facility not found",
            "message": "There is no such facility.",
        }
        return render(request, "error.html", missing, 404)
    context: dict[str, Any] = {
        "user": user_json(actor),
        "facility": facilities.facility_json(row, cert),
        "audits": [
            audit_json(a) | {"actions": facilities.actions_due(due, today, a.id).to_json()} for a in audits
        ],
        "actions": facilities.actions_due(due, today).to_json(),
        "status_labels": STATUS_LABELS,
        "may_link": can(actor, Action.MANAGE_SUPPLIERS),
        "linked": linked,
    }
    return render(request, "facility.html", context)


async def portfolio_rows(
    request: Request, actor: Actor
) -> tuple[facilities.PortfolioQuery, list[facilities.Supplier]]:
    query = facilities.PortfolioQuery.parse(request.query_params)
    async with ctx(request).db.session() as s:
        return query, query.apply(await facilities.suppliers(s, actor))


async def portfolio_page(request: Request) -> Response:
    actor = await allowed(request, Action.MANAGE_SUPPLIERS)
    if isinstance(actor, Response):
        return actor
    query, rows = await portfolio_rows(request, actor)
    now = dt.datetime.now(dt.UTC)
    context: dict[str, Any] = {
        "user": user_json(actor),
        "query": query,
        "rows": [r.to_json(now) for r in rows],
        "status_labels": STATUS_LABELS,
        "states": facilities.STATES,
        "sorts": list(facilities.SORTS),
        "expiring_days": facilities.EXPIRING_DAYS,
        "csv_url": "/portfolio.csv" + (f"?{request.url.query}" if request.url.query else ""),
    }
    return render(request, "portfolio.html", context)


async def portfolio_csv(request: Request) -> Response:
    actor = await allowed(request, Action.MANAGE_SUPPLIERS)
    if isinstance(actor, Response):
        return actor
    _, rows = await portfolio_rows(request, actor)
    body = facilities.portfolio_csv(rows, dt.datetime.now(dt.UTC))
    headers = {"Content-Disposition": 'attachment; filename="suppliers.csv"', "Cache-Control": "no-store"}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


async def attestation_page(request: Request) -> Response:
    """One printable page: the member, the date, each certified supplier with a QR code of its certificate."""
    actor = await allowed(request, Action.MANAGE_SUPPLIERS)
    if isinstance(actor, Response):
        return actor
    async with ctx(request).db.session() as s:
        rows = await facilities.suppliers(s, actor)
    certified = []
    for r in sorted(rows, key=facilities.SORTS["name"]):
        if r.state == "valid" and r.certificate is not None:
            url = page_url(request, str(r.certificate["id"]))
            certified.append(
                {"facility": r.facility, "certificate": r.certificate, "url": url, "qr": qr_svg(url)}
            )
    context: dict[str, Any] = {
        "user": user_json(actor),
        "member": actor.org_name,
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "certified": certified,
        "uncertified": len(rows) - len(certified),
    }
    return render(request, "attestation.html", context)


routes = [
    Route("/facilities", facilities_page, methods=["GET"]),
    Route("/facilities/{facility_id}", facility_page, methods=["GET"]),
    Route("/portfolio", portfolio_page, methods=["GET"]),
    Route("/portfolio.csv", portfolio_csv, methods=["GET"]),
    Route("/portfolio/attestation", attestation_page, methods=["GET"]),
]
