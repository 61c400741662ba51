"""Reviews issue certificates; certificates are public, signed, revocable and superseded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from recorder.certificate import state_of, verify_certificate
from server.certificates import CertificateRule, add_years, score_of
from server.settings import Settings
from tests.parties import Parties, make_parties
from tests.support import COMPLETE_ANYWAY, LiveServer

TEMPLATE = """\
key: cert-check
version: 1
title: Certificate check
languages: [en]
sections:
  - key: site
    title: Site
    checkpoints:
      - key: gate
        criteria: ["9.4"]
        level: must
        title: Gate
        instruction:
          en: Show the gate.
      - key: fence
        criteria: ["9.1"]
        level: should
        title: Fence
        instruction:
          en: Show the fence.
"""


async def passed_audit(parties: Parties, facility: str = "Plant One", fence: str = "meets") -> str:
    """A completed audit of Firm A that passes (``fence`` may fail: it is a should)."""
    async with parties.client("lead") as http:
        r = await http.post("/api/templates", content=TEMPLATE, headers={"Content-Type": "application/yaml"})
        assert r.status_code in (200, 201, 409), r.text  # 409: uploaded by an earlier audit
        body = {
            "facility": {"name": facility, "country": "VN", "address": "1 Road"},
            "template": "cert-check",
        }
        audit_id = str((await http.post("/api/audits", json=body)).json()["id"])
        results: dict[str, dict[str, Any]] = {"gate": {"result": "meets"}, "fence": {"result": fence}}
        if fence == "does_not_meet":
            results["fence"]["corrective_action"] = "Repair the fence"
        for key, result in results.items():
            r = await http.put(f"/api/audits/{audit_id}/checkpoints/{key}", json=result)
            assert r.status_code == 200, r.text
        r = await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200 and r.json()["result"] == "pass", r.text
    return audit_id


async def accept(parties: Parties, audit_id: str) -> dict[str, Any]:
    async with parties.client("reviewer") as http:
        r = await http.post(f"/api/audits/{audit_id}/review", json={"decision": "accept", "comment": "fine"})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def public_file(server: LiveServer, certificate_id: str) -> dict[str, Any]:
    async with server.client() as http:
        r = await http.get(f"/api/certificates/{certificate_id}")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_an_accepted_passing_audit_gets_a_public_signed_certificate(server: LiveServer) -> None:
    parties = await make_parties(server)
    audit_id = await passed_audit(parties)
    answer = await accept(parties, audit_id)
    cert_id = answer["certificate"]["id"]
    assert answer["review"]["decision"] == "accept" and answer["certificate"]["state"] == "valid"
    async with parties.client("lead") as http:
        assert (await http.get(f"/api/audits/{audit_id}")).json()["certificate_id"] == cert_id
    data = await public_file(server, cert_id)
    doc = data["certificate"]
    assert data["state"] == "valid" and doc["status"] == "issued"
    facility = {"name": "Plant One", "country": "VN", "address": "1 Road"}
    assert doc["facility"] == facility | {"id": doc["facility"]["id"]} and doc["facility"]["id"]
    assert doc["firm"]["name"] == "Firm A" and doc["audit"] == audit_id
    assert doc["score"] == "1.0000" and doc["validity_years"] == 2
    issued = dt.datetime.fromisoformat(doc["issued"])
    assert dt.datetime.fromisoformat(doc["expires"]) == add_years(issued, 2)
    assert "at least 95.0 %" in doc["rule"] and "every corrective action is closed" in doc["rule"]
    async with server.client() as http:
        key = (await http.get("/api/certificates/public-key")).text.encode()
        page = await http.get(f"/certificates/{cert_id}")
    report = verify_certificate(data, key)
    assert report.ok, report.problems
    assert report.summary["key_source"] == "trusted" and report.summary["state"] == "valid"
    assert page.status_code == 200
    assert 'data-testid="certificate-status" data-state="valid"' in page.text
    assert 'data-testid="certificate-qr"' in page.text and "<svg" in page.text
    assert "Plant One" in page.text and "Firm A" in page.text
    for private in ("Lead", "lead@example.org", "Repair", "fine"):  # no people, findings or comments
        assert private not in page.text


async def test_open_corrective_actions_give_the_short_validity(server: LiveServer) -> None:
    parties = await make_parties(server)
    audit_id = await passed_audit(parties, fence="does_not_meet")
    doc = (await public_file(server, (await accept(parties, audit_id))["certificate"]["id"]))["certificate"]
    assert doc["score"] == "0.5000" and doc["validity_years"] == 1
    assert "1 corrective action(s) open: 1 year" in doc["rule"]


async def test_who_may_review_and_a_returned_audit(server: LiveServer) -> None:
    parties = await make_parties(server)
    async with parties.client("lead") as http:
        open_id = str(
            (await http.post("/api/audits", json={"facility": {"name": "X", "country": "VN"}})).json()["id"]
        )
    async with parties.client("reviewer") as http:
        r = await http.post(f"/api/audits/{open_id}/review", json={"decision": "accept"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_completed"
    audit_id = await passed_audit(parties)
    for who, status in (("lead", 403), ("a2", 403), ("admin", 403), ("auditor_b", 404), ("agency", 403)):
        async with parties.client(who) as http:
            r = await http.post(f"/api/audits/{audit_id}/review", json={"decision": "accept"})
            assert r.status_code == status, (who, r.text)
    async with parties.client("reviewer") as http:
        r = await http.post(f"/api/audits/{audit_id}/review", json={"decision": "return"})
        assert r.status_code == 422  # a returned audit needs a comment for the auditor
        r = await http.post(
            f"/api/audits/{audit_id}/review", json={"decision": "return", "comment": "Photo of the seal?"}
        )
        assert r.status_code == 201 and r.json()["certificate"] is None
    async with parties.client("lead") as http:
        got = (await http.get(f"/api/audits/{audit_id}")).json()
        assert got["status"] == "completed" and got["certificate_id"] is None
        reviews = (await http.get(f"/api/audits/{audit_id}/reviews")).json()["items"]
        assert [(r["decision"], r["comment"]) for r in reviews] == [("return", "Photo of the seal?")]
        report = await http.get(f"/audits/{audit_id}/report")
        assert "Photo of the seal?" in report.text
    await accept(parties, audit_id)  # after the auditor's answer, a reviewer accepts it
    async with parties.client("reviewer") as http:
        r = await http.post(f"/api/audits/{audit_id}/review", json={"decision": "accept"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_accepted"


async def revoke(http: httpx.AsyncClient, cert_id: str, reason: str = "Seal fraud found") -> httpx.Response:
    return await http.post(f"/api/certificates/{cert_id}/revoke", json={"reason": reason})


async def test_an_admin_revokes_and_a_new_audit_supersedes(server: LiveServer) -> None:
    parties = await make_parties(server)
    first = (await accept(parties, await passed_audit(parties)))["certificate"]["id"]
    second = (await accept(parties, await passed_audit(parties, "  plant one ")))["certificate"]["id"]
    old = await public_file(server, first)
    assert old["state"] == "superseded" and old["certificate"]["superseded_by"]["certificate"] == second
    assert verify_certificate(old).ok  # the superseded version is signed and in the log too
    async with parties.client("reviewer") as http:
        assert (await revoke(http, second)).status_code == 403
    async with parties.client("admin") as http:
        assert (await revoke(http, second, "")).status_code == 422
        r = await revoke(http, second)
        assert r.status_code == 200 and r.json()["state"] == "revoked"
        assert (await revoke(http, second)).status_code == 409
        assert (await revoke(http, "no-such-certificate")).status_code == 404
    data = await public_file(server, second)
    assert data["state"] == "revoked" and data["certificate"]["revocation"]["reason"] == "Seal fraud found"
    report = verify_certificate(data)
    assert report.ok and report.summary["state"] == "revoked" and report.notes  # key from the file
    async with server.client() as http:
        page = await http.get(f"/certificates/{second}")
        assert 'data-state="revoked"' in page.text and "Seal fraud found" in page.text
        assert (await http.get("/certificates/nope")).status_code == 404


def test_expiry_and_the_rule_come_from_dates_and_settings() -> None:
    doc = {"status": "issued", "expires": "2026-03-01T08:00:00.000Z"}
    assert state_of(doc, dt.datetime(2026, 3, 1, 7, 59, tzinfo=dt.UTC)) == "valid"
    assert state_of(doc, dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)) == "expired"
    assert state_of(doc | {"status": "revoked"}, dt.datetime(2020, 1, 1, tzinfo=dt.UTC)) == "revoked"
    assert add_years(dt.datetime(2024, 2, 29, tzinfo=dt.UTC), 1) == dt.datetime(2025, 2, 28, tzinfo=dt.UTC)
    rule = CertificateRule.from_settings(Settings(certificate_long_years=3, certificate_long_score=0.9))
    nine_of_ten = score_of({"counts": {"meets": 9, "does_not_meet": 1, "not_applicable": 4}})
    assert rule.years(nine_of_ten, 0) == 3 and rule.years(nine_of_ten, 1) == 1
    assert rule.years(score_of({"score": 0.8999}), 0) == 1
