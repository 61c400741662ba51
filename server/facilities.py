"""The facility registry: parsing a facility at the edge, reusing one, and what members see of it.

A facility is the stable identity of an audited site. Audits point at one, certificates
supersede by it, and members link the ones they source from ("my suppliers"). Facility
identities and their certificate status are not confidential within the association;
which audits exist is, so audit history is always filtered by the policy.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server import certificates
from server.api.common import text_field
from server.db import facility_repo
from server.db.models import Certificate, Facility
from server.errors import ApiError
from server.policy import Actor
from server.views import iso

EXPIRING_DAYS = 60
STATES = ("valid", "expired", "revoked", "superseded", "none")


@dataclass(frozen=True)
class NewFacility:
    """A facility as a request describes it, validated."""

    name: str
    country: str
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    external_id: str | None = None

    @property
    def key(self) -> str:
        return facility_key(self.name, self.country)


def facility_key(name: str, country: str) -> str:
    return facility_repo.facility_key(name, country)


def _coordinate(obj: dict[str, Any], key: str, bound: float) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
        raise ApiError(422, "invalid", f"'{key}' must be a number from {-bound:g} to {bound:g}")
    return float(value)


def parse_facility(obj: dict[str, Any]) -> NewFacility:
    """A facility object of a request: name and country required, the rest optional."""
    name = text_field(obj, "name", limit=300, required=True)
    country = text_field(obj, "country", limit=100, required=True)
    assert name is not None and country is not None
    lat, lon = _coordinate(obj, "lat", 90), _coordinate(obj, "lon", 180)
    if (lat is None) != (lon is None):
        raise ApiError(422, "invalid", "give both 'lat' and 'lon', or neither")
    return NewFacility(
        name=" ".join(name.split()),
        country=country,
        address=text_field(obj, "address", limit=1000),
        latitude=lat,
        longitude=lon,
        external_id=text_field(obj, "external_id", limit=100),
    )


async def find_or_create(s: AsyncSession, new: NewFacility, actor: Actor) -> tuple[Facility, bool]:
    """The facility with the same name and country (case-insensitive), or a new one; not committed."""
    found = await facility_repo.by_key(s, new.key)
    if found is not None:
        return found, False
    row = Facility(
        name=new.name,
        country=new.country,
        address=new.address,
        latitude=new.latitude,
        longitude=new.longitude,
        external_id=new.external_id,
        facility_key=new.key,
        created_by=actor.user_id,
    )
    s.add(row)
    await s.flush()
    return row, True


async def for_new_audit(s: AsyncSession, body: dict[str, Any], actor: Actor) -> Facility:
    """The facility a new audit names: ``facility_id`` of the registry, or an inline ``facility``."""
    facility_id = body.get("facility_id")
    if facility_id is not None:
        if not isinstance(facility_id, str):
            raise ApiError(422, "invalid", "'facility_id' must be a string")
        found = await facility_repo.get(s, facility_id)
        if found is None:
            raise ApiError(422, "invalid", f"no facility {facility_id!r}")
        return found
    facility = body.get("facility")
    if not isinstance(facility, dict):
        raise ApiError(
            422, "invalid", "give 'facility_id', or 'facility' as an object with 'name' and 'country'"
        )
    return (await find_or_create(s, parse_facility(facility), actor))[0]


def certificate_json(cert: Certificate | None) -> dict[str, Any] | None:
    """A certificate as a facility's status: its state, dates, firm and public page."""
    if cert is None:
        return None
    doc = certificates.document_of(cert)
    firm = doc.get("firm") or {}
    return {
        "id": cert.id,
        "state": certificates.live_state(cert),
        "issued": doc["issued"],
        "expires": doc["expires"],
        "firm": firm.get("name"),
        "url": f"/certificates/{cert.id}",
    }


def valid_certificate(cert: Certificate | None) -> dict[str, Any] | None:
    """The certificate if it is in force now: what the duplicate-audit warning names."""
    found = certificate_json(cert)
    if found is None or found["state"] != "valid":
        return None
    return found | {
        "message": f"certified until {found['expires'][:10]}, by {found['firm'] or 'an audit firm'}"
    }


def facility_json(row: Facility, cert: Certificate | None = None) -> dict[str, Any]:
    location = None if row.latitude is None else {"lat": row.latitude, "lon": row.longitude}
    return {
        "id": row.id,
        "name": row.name,
        "country": row.country,
        "address": row.address,
        "location": location,
        "external_id": row.external_id,
        "created_at": iso(row.created_at),
        "certificate": certificate_json(cert),
        "url": f"/facilities/{row.id}",
    }


@dataclass(frozen=True)
class ActionsDue:
    """Open corrective actions (not yet accepted) and how late the latest of them is."""

    open: int = 0
    overdue: int = 0
    days_overdue: int = 0  # of the action most past its due date; 0 when none is overdue

    @classmethod
    def of(cls, dues: list[dt.date], today: dt.date) -> ActionsDue:
        late = [(today - due).days for due in dues if due < today]
        return cls(len(dues), len(late), max(late, default=0))

    def to_json(self) -> dict[str, int]:
        return {"open": self.open, "overdue": self.overdue, "days_overdue": self.days_overdue}


def actions_due(found: list[tuple[str, dt.date]], today: dt.date, audit_id: str | None = None) -> ActionsDue:
    """The summary of a facility's open actions (``found`` from facility_repo.open_actions),
    or of one of its audits."""
    return ActionsDue.of([due for aid, due in found if audit_id is None or aid == audit_id], today)


@dataclass(frozen=True)
class Supplier:
    """One row of a member's portfolio."""

    facility: Facility
    certificate: dict[str, Any] | None
    last_audit: dt.datetime | None
    actions: ActionsDue = ActionsDue()

    @property
    def state(self) -> str:
        return str(self.certificate["state"]) if self.certificate else "none"

    @property
    def expires(self) -> str | None:
        return str(self.certificate["expires"]) if self.certificate else None

    def expiring_soon(self, now: dt.datetime) -> bool:
        if self.state != "valid" or self.expires is None:
            return False
        until = dt.datetime.fromisoformat(self.expires.replace("Z", "+00:00"))
        return until - now <= dt.timedelta(days=EXPIRING_DAYS)

    def to_json(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "facility": {
                "id": self.facility.id,
                "name": self.facility.name,
                "country": self.facility.country,
                "external_id": self.facility.external_id,
                "url": f"/facilities/{self.facility.id}",
            },
            "country": self.facility.country,
            "certificate": self.certificate,
            "status": self.state,
            "expires": self.expires,
            "expiring_soon": self.expiring_soon(now),
            "last_audit": iso(self.last_audit),
            "actions": self.actions.to_json(),
        }


async def suppliers(s: AsyncSession, actor: Actor) -> list[Supplier]:
    """The facilities the actor's organisation linked, with certificate and last visible audit."""
    rows = await facility_repo.suppliers(s, actor.org_id)
    ids = [r.id for r in rows]
    certs = await facility_repo.certificates_of(s, ids)
    last = await facility_repo.last_audits(s, ids, actor)
    due = await facility_repo.open_actions(s, ids, actor)
    today = dt.datetime.now(dt.UTC).date()
    return [
        Supplier(r, certificate_json(certs.get(r.id)), last.get(r.id), actions_due(due.get(r.id, []), today))
        for r in rows
    ]


SORTS = {
    "name": lambda r: (r.facility.name.casefold(),),
    "country": lambda r: (r.facility.country.casefold(), r.facility.name.casefold()),
    "status": lambda r: (STATES.index(r.state), r.facility.name.casefold()),
    "expires": lambda r: (r.expires is None, r.expires or "", r.facility.name.casefold()),
    "last_audit": lambda r: (r.last_audit is None, iso(r.last_audit) or "", r.facility.name.casefold()),
}


@dataclass(frozen=True)
class PortfolioQuery:
    """Filters and order of the portfolio page and its CSV, from the query string."""

    status: str | None = None
    country: str | None = None
    sort: str = "name"

    @classmethod
    def parse(cls, params: Any) -> PortfolioQuery:
        status = params.get("status") or None
        sort = params.get("sort") or "name"
        country = (params.get("country") or "").strip()[:100] or None
        return cls(status if status in STATES else None, country, sort if sort in SORTS else "name")

    def apply(self, rows: list[Supplier]) -> list[Supplier]:
        kept = [
            r
            for r in rows
            if (self.status is None or r.state == self.status)
            and (self.country is None or r.facility.country.casefold() == self.country.casefold())
        ]
        return sorted(kept, key=SORTS[self.sort])


CSV_HEADER = [
    "facility_id",
    "name",
    "country",
    "external_id",
    "status",
    "certificate_id",
    "expires",
    "expiring_soon",
    "last_audit",
    "open_actions",
    "days_overdue",
]


def portfolio_csv(rows: list[Supplier], now: dt.datetime) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        cert = r.certificate or {}
        writer.writerow(
            [
                r.facility.id,
                _cell(r.facility.name),
                _cell(r.facility.country),
                _cell(r.facility.external_id or ""),
                r.state,
                cert.get("id", ""),
                r.expires or "",
                "yes" if r.expiring_soon(now) else "no",
                iso(r.last_audit) or "",
                r.actions.open,
                r.actions.days_overdue,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """Neutralise spreadsheet formulas in names a facility chose (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
