"""The facility registry: reuse by name and country, search, history under the policy, migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from server.db.engine import alembic_config
from tests.parties import Parties, make_parties, share
from tests.support import LiveServer
from tests.test_certificates import accept, passed_audit


async def facility_of(parties: Parties, audit_id: str, who: str = "lead") -> dict[str, Any]:
    async with parties.client(who) as http:
        audit = (await http.get(f"/api/audits/{audit_id}")).json()
        data: dict[str, Any] = (await http.get(f"/api/facilities/{audit['facility']['id']}")).json()
    return data


async def test_register_reuse_by_name_and_country_and_search(server: LiveServer) -> None:
    parties = await make_parties(server)
    body = {"name": "Saigon  Apparel", "country": "VN", "lat": 10.8, "lon": 106.6, "external_id": "SUP-1"}
    async with parties.client("lead") as http:
        r = await http.post("/api/facilities", json=body)
        assert r.status_code == 201, r.text
        facility = r.json()
        assert facility["name"] == "Saigon Apparel" and facility["location"] == {"lat": 10.8, "lon": 106.6}
        again = await http.post("/api/facilities", json={"name": "saigon apparel", "country": "vn"})
        assert again.status_code == 200 and again.json()["id"] == facility["id"]
        assert (
            await http.post("/api/facilities", json={"name": "X", "country": "VN", "lat": 91})
        ).status_code == 422
        inline = await http.post(
            "/api/audits", json={"facility": {"name": "SAIGON APPAREL", "country": "Vn"}}
        )
        by_id = await http.post("/api/audits", json={"facility_id": facility["id"]})
        assert inline.json()["facility"]["id"] == by_id.json()["facility"]["id"] == facility["id"]
        assert inline.json()["facility_certificate"] is None
        assert (await http.post("/api/audits", json={"facility_id": "nope"})).status_code == 422
        await http.post("/api/facilities", json={"name": "Dhaka Knit", "country": "BD"})
    for who in ("member1", "agency", "reviewer"):  # every signed-in role may look facilities up
        async with parties.client(who) as http:
            names = [
                f["name"]
                for f in (await http.get("/api/facilities", params={"q": "apparel"})).json()["items"]
            ]
            assert names == ["Saigon Apparel"], who
            by_country = (await http.get("/api/facilities", params={"country": "bd"})).json()["items"]
            assert [f["name"] for f in by_country] == ["Dhaka Knit"]
            assert (await http.get("/api/facilities", params={"q": "vn"})).json()[
                "items"
            ] == []  # not the country
            assert (await http.post("/api/facilities", json=body)).status_code == 403
    async with parties.client(None) as http:
        assert (await http.get("/api/facilities")).status_code == 401


async def test_history_shows_only_visible_audits_and_the_certificate(server: LiveServer) -> None:
    parties = await make_parties(server)
    certified = await passed_audit(parties, "Plant One")
    cert = (await accept(parties, certified))["certificate"]
    async with parties.client("lead") as http:
        second = await http.post("/api/audits", json={"facility": {"name": "plant one", "country": "VN"}})
        assert second.status_code == 201
        warning = second.json()["facility_certificate"]
        assert warning["id"] == cert["id"] and warning["firm"] == "Firm A"
        assert warning["message"].startswith("certified until ") and warning["message"].endswith(
            ", by Firm A"
        )
    open_id = second.json()["id"]
    seen = {
        "lead": {certified, open_id},
        "auditor_b": set(),
        "member1": set(),
        "agency": {certified},
    }
    for who, ids in seen.items():
        async with parties.client(who) as http:
            data = (await http.get(f"/api/facilities/{second.json()['facility']['id']}")).json()
        assert {a["id"] for a in data["audits"]} == ids, who
        assert data["certificate"]["id"] == cert["id"] and data["certificate"]["state"] == "valid"
    await share(parties, certified, "Importer One")
    async with parties.client("member1") as http:
        data = (await http.get(f"/api/facilities/{second.json()['facility']['id']}")).json()
        assert {a["id"] for a in data["audits"]} == {certified}
        assert (await http.get("/api/facilities/nope")).status_code == 404


async def test_a_new_certificate_supersedes_by_facility(server: LiveServer) -> None:
    parties = await make_parties(server)
    first = (await accept(parties, await passed_audit(parties, "Plant Two")))["certificate"]["id"]
    again = await passed_audit(parties, "PLANT two")
    second = (await accept(parties, again))["certificate"]["id"]
    facility = await facility_of(parties, again)
    assert facility["certificate"]["id"] == second
    async with server.client() as http:
        old = (await http.get(f"/api/certificates/{first}")).json()
        new = (await http.get(f"/api/certificates/{second}")).json()
    assert old["state"] == "superseded" and new["certificate"]["facility"]["id"] == facility["id"]


async def test_members_link_suppliers(server: LiveServer) -> None:
    parties = await make_parties(server)
    audit_id = await passed_audit(parties, "Plant Three")
    cert = (await accept(parties, audit_id))["certificate"]
    facility_id = (await facility_of(parties, audit_id))["id"]
    async with parties.client("lead") as http:
        other = (await http.post("/api/facilities", json={"name": "Unaudited", "country": "ID"})).json()["id"]
        assert (await http.post(f"/api/facilities/{facility_id}/links")).status_code == 403
    async with parties.client("member1") as http:
        assert (await http.post(f"/api/facilities/{facility_id}/links")).status_code == 201
        assert (await http.post(f"/api/facilities/{facility_id}/links")).status_code == 200
        assert (await http.post(f"/api/facilities/{other}/links")).status_code == 201
        assert (await http.post("/api/facilities/nope/links")).status_code == 404
        items = (await http.get("/api/my/suppliers")).json()["items"]
        assert [(i["facility"]["name"], i["status"]) for i in items] == [
            ("Plant Three", "valid"),
            ("Unaudited", "none"),
        ]
        assert items[0]["certificate"]["id"] == cert["id"] and items[0]["country"] == "VN"
        assert items[0]["last_audit"] is None  # not shared with Importer One
        assert not items[0]["expiring_soon"]
        only = (await http.get("/api/my/suppliers", params={"country": "id"})).json()["items"]
        assert [i["facility"]["id"] for i in only] == [other]
    await share(parties, audit_id, "Importer One")
    async with parties.client("member1") as http:
        items = (await http.get("/api/my/suppliers", params={"status": "valid"})).json()["items"]
        assert len(items) == 1 and items[0]["last_audit"] is not None
        assert (await http.delete(f"/api/facilities/{other}/links")).status_code == 200
        assert (await http.delete(f"/api/facilities/{other}/links")).status_code == 404
    async with parties.client("member2") as http:
        assert (await http.get("/api/my/suppliers")).json()["items"] == []


def test_the_migration_gives_existing_audits_facilities(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config()

    def upgrade(to: str) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, to)

    upgrade("0009")
    audits = [("a1", "Plant  One", "VN"), ("a2", "plant one", "vn"), ("a3", "Plant One", "TH")]
    with engine.begin() as conn:
        for audit_id, name, country in audits:
            conn.execute(
                sa.text(
                    "INSERT INTO audits (id, title, facility_name, facility_country, status, created_by,"
                    " firm_id, lead_auditor_id, created_at) VALUES (:id, 't', :n, :c, 'open', 'u', 'f', 'u',"
                    " '2025-01-01 00:00:00')"
                ),
                {"id": audit_id, "n": name, "c": country},
            )
        conn.execute(
            sa.text(
                "INSERT INTO certificates (id, audit_id, facility_key, status, issued_at, expires_at,"
                " document, signature, key_id, repository_seq)"
                " VALUES ('c1', 'a1', :k, 'issued', '2025-01-01 00:00:00',"
                " '2026-01-01 00:00:00', '{}', 's', 'k', 0)"
            ),
            {"k": "plant one\nvn"},
        )
    upgrade("head")
    with engine.begin() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, facility_id FROM audits")).all())
        facilities = conn.execute(sa.text("SELECT id, name, country FROM facilities ORDER BY country")).all()
        key = conn.execute(sa.text("SELECT facility_key FROM certificates")).scalar_one()
    engine.dispose()
    assert len(facilities) == 2 and rows["a1"] == rows["a2"] != rows["a3"]
    assert key == rows["a1"] and {f[0] for f in facilities} == set(rows.values())
