"""The facility registry and members' suppliers: /api/facilities..., /api/my/suppliers."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import facilities
from server.access import require
from server.api.common import read_json
from server.context import ctx
from server.db import facility_repo
from server.db.models import Facility
from server.errors import ApiError
from server.policy import Action
from server.views import audit_json

MAX_QUERY = 200


def search_terms(request: Request) -> tuple[str | None, str | None]:
    """``?q=`` (part of the name) and ``?country=``, trimmed and bounded."""
    q = request.query_params.get("q", "").strip()[:MAX_QUERY] or None
    country = request.query_params.get("country", "").strip()[:MAX_QUERY] or None
    return q, country


async def list_facilities(request: Request) -> Response:
    await require(request, Action.VIEW_FACILITIES)
    q, country = search_terms(request)
    async with ctx(request).db.session() as s:
        rows = await facility_repo.search(s, q, country)
        certs = await facility_repo.certificates_of(s, [r.id for r in rows])
    return JSONResponse({"items": [facilities.facility_json(r, certs.get(r.id)) for r in rows]})


async def create_facility(request: Request) -> Response:
    """Register a facility; one with the same name and country is answered instead (200)."""
    actor = await require(request, Action.REGISTER_FACILITY)
    new = facilities.parse_facility(await read_json(request))
    async with ctx(request).db.session() as s:
        row, created = await facilities.find_or_create(s, new, actor)
        await s.commit()
        cert = (await facility_repo.certificates_of(s, [row.id])).get(row.id)
    status = 201 if created else 200
    return JSONResponse(
        facilities.facility_json(row, cert),
        status_code=status,
        headers={"Location": f"/api/facilities/{row.id}"},
    )


async def find(request: Request) -> Facility:
    facility_id = str(request.path_params["facility_id"])
    async with ctx(request).db.session() as s:
        row = await facility_repo.get(s, facility_id)
    if row is None:
        raise ApiError(404, "not_found", f"no facility {facility_id!r}")
    return row


async def get_facility(request: Request) -> Response:
    """The facility, its current certificate and the audits of it the caller may see."""
    actor = await require(request, Action.VIEW_FACILITIES)
    row = await find(request)
    async with ctx(request).db.session() as s:
        cert = (await facility_repo.certificates_of(s, [row.id])).get(row.id)
        audits = await facility_repo.history(s, row.id, actor)
    data = facilities.facility_json(row, cert) | {"audits": [audit_json(a) for a in audits]}
    return JSONResponse(data)


async def link_supplier(request: Request) -> Response:
    actor = await require(request, Action.MANAGE_SUPPLIERS)
    row = await find(request)
    async with ctx(request).db.session() as s:
        created = await facility_repo.link(s, row.id, actor.org_id, actor.user_id)
    return JSONResponse({"facility": row.id, "linked": True}, status_code=201 if created else 200)


async def unlink_supplier(request: Request) -> Response:
    actor = await require(request, Action.MANAGE_SUPPLIERS)
    row = await find(request)
    async with ctx(request).db.session() as s:
        removed = await facility_repo.unlink(s, row.id, actor.org_id)
    if not removed:
        raise ApiError(404, "not_found", "this facility is not one of your organisation's suppliers")
    return JSONResponse({"facility": row.id, "linked": False})


async def my_suppliers(request: Request) -> Response:
    """The facilities the caller's organisation linked, with certificate status and last audit."""
    actor = await require(request, Action.MANAGE_SUPPLIERS)
    query = facilities.PortfolioQuery.parse(request.query_params)
    async with ctx(request).db.session() as s:
        rows = query.apply(await facilities.suppliers(s, actor))
    now = dt.datetime.now(dt.UTC)
    return JSONResponse({"items": [r.to_json(now) for r in rows]})


routes = [
    Route("/api/facilities", list_facilities, methods=["GET"]),
    Route("/api/facilities", create_facility, methods=["POST"]),
    Route("/api/facilities/{facility_id}", get_facility, methods=["GET"]),
    Route("/api/facilities/{facility_id}/links", link_supplier, methods=["POST"]),
    Route("/api/facilities/{facility_id}/links", unlink_supplier, methods=["DELETE"]),
    Route("/api/my/suppliers", my_suppliers, methods=["GET"]),
]
