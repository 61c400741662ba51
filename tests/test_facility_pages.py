"""Facility pages, a member's portfolio, its CSV and the attestation for the customs specialist."""

from __future__ import annotations

import csv
import datetime as dt
import io

from server.db.models import Facility
from server.facilities import PortfolioQuery, Supplier
from tests.parties import make_parties
from tests.support import LiveServer
from tests.test_certificates import accept, passed_audit
from tests.test_facilities import facility_of


async def test_facilities_page_searches_and_shows_a_facility(server: LiveServer) -> None:
    parties = await make_parties(server)
    audit_id = await passed_audit(parties, "Plant Page")
    cert = (await accept(parties, audit_id))["certificate"]
    facility = await facility_of(parties, audit_id)
    async with parties.client("agency") as http:
        page = await http.get("/facilities", params={"q": "page", "country": "vn"})
        assert page.status_code == 200 and f'data-facility-id="{facility["id"]}"' in page.text
        assert (await http.get("/facilities", params={"q": "nothing"})).text.count(
            'data-testid="facility-row"'
        ) == 0
        detail = await http.get(f"/facilities/{facility['id']}")
        assert 'data-state="valid"' in detail.text and f"/certificates/{cert['id']}" in detail.text
        assert f'data-audit-id="{audit_id}"' in detail.text  # the agency reads completed audits
        assert (await http.get("/facilities/nope")).status_code == 404
    async with parties.client("member2") as http:
        detail = await http.get(f"/facilities/{facility['id']}")
        assert 'data-state="valid"' in detail.text and audit_id not in detail.text  # not shared with it


async def test_portfolio_csv_and_attestation(server: LiveServer) -> None:
    parties = await make_parties(server)
    audit_id = await passed_audit(parties, "Plant Export")
    cert = (await accept(parties, audit_id))["certificate"]
    facility = await facility_of(parties, audit_id)
    async with parties.client("lead") as http:
        other = (await http.post("/api/facilities", json={"name": "=cmd Plant", "country": "ID"})).json()[
            "id"
        ]
    async with parties.client("member1") as http:
        for fid in (facility["id"], other):
            assert (await http.post(f"/api/facilities/{fid}/links")).status_code == 201
        home = await http.get("/", follow_redirects=False)
        assert home.headers["location"] == "/portfolio"
        page = await http.get("/portfolio", params={"sort": "status"})
        assert page.status_code == 200 and page.text.count('data-testid="supplier-row"') == 2
        assert page.text.index("Plant Export") < page.text.index("=cmd Plant")
        assert 'data-expiring="true"' not in page.text  # valid for two years
        only = await http.get("/portfolio", params={"status": "none"})
        assert only.text.count('data-testid="supplier-row"') == 1 and "Plant Export" not in only.text
        r = await http.get("/portfolio.csv", params={"country": "VN"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [(x["name"], x["status"], x["certificate_id"]) for x in rows] == [
            ("Plant Export", "valid", cert["id"])
        ]
        everything = list(csv.DictReader(io.StringIO((await http.get("/portfolio.csv")).text)))
        assert {x["name"] for x in everything} == {
            "Plant Export",
            "'=cmd Plant",
        }  # no formula in a spreadsheet
        attestation = await http.get("/portfolio/attestation")
        assert attestation.status_code == 200
        assert 'data-testid="attestation-member">Importer One<' in attestation.text
        assert f'data-certificate-id="{cert["id"]}"' in attestation.text and "<svg" in attestation.text
        assert f"/certificates/{cert['id']}" in attestation.text and "=cmd Plant" not in attestation.text
    async with parties.client("lead") as http:
        assert (await http.get("/portfolio")).status_code == 403
        assert (await http.get("/portfolio/attestation")).status_code == 403


def test_certificates_expiring_within_60_days_are_flagged() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def row(expires: str, state: str = "valid") -> Supplier:
        cert = {"id": "c", "state": state, "expires": expires}
        return Supplier(Facility(id="f", name="F", country="VN"), cert, None)

    assert row("2026-03-01T00:00:00.000Z").expiring_soon(now)
    assert not row("2026-03-03T00:00:00.000Z").expiring_soon(now)
    assert not row("2026-02-01T00:00:00.000Z", "revoked").expiring_soon(now)
    rows = [row("2026-05-01T00:00:00.000Z"), row("2026-02-01T00:00:00.000Z", "expired")]
    assert [r.state for r in PortfolioQuery.parse({"sort": "expires"}).apply(rows)] == ["expired", "valid"]
    assert PortfolioQuery.parse({"status": "bogus", "sort": "bogus"}) == PortfolioQuery()
