"""Corrective actions: findings at completion, the facility's link and answers, the firm's
decisions, the audit's ledger after completion, and the certificate re-evaluated."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from recorder.verify import verify_package
from server import capa
from server.db import ledger_repo
from server.db.ledger_repo import AuditSealed, commit_with_entry
from server.db.models import AuditEvent, CorrectiveAction
from tests.parties import Parties, jpeg, make_parties
from tests.support import COMPLETE_ANYWAY, LiveServer, live_server, new_invite
from tests.test_certificates import TEMPLATE, accept, public_file

DUE = "2031-05-01"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """Long validity from a score of 50 %: one failed should of two still qualifies once closed."""
    async with live_server(tmp_path / "data", certificate_long_score=0.5) as live:
        yield live


async def audit_with_finding(
    parties: Parties, facility: str = "Plant One", fence_photo: bytes | None = None
) -> str:
    """A completed, passing audit of Firm A whose fence (a should) does not meet; with
    ``fence_photo``, the phone took that photo of the fence during the audit."""
    async with parties.client("lead") as http:
        r = await http.post("/api/templates", content=TEMPLATE, headers={"Content-Type": "application/yaml"})
        assert r.status_code in (200, 201, 409), r.text
        body = {"facility": {"name": facility, "country": "VN"}, "template": "cert-check"}
        audit_id = str((await http.post("/api/audits", json=body)).json()["id"])
        if fence_photo is not None:
            invite = await new_invite(http, audit_id)
            r = await http.post(
                f"/api/audits/{audit_id}/photos",
                data={"checkpoint": "fence"},
                files={"file": ("fence.jpg", fence_photo, "image/jpeg")},
                headers={"Authorization": f"Invite {invite['token']}"},
            )
            assert r.status_code == 201, r.text
        results = {
            "gate": {"result": "meets"},
            "fence": {"result": "does_not_meet", "corrective_action": "Repair the fence", "due_date": DUE},
        }
        for key, result in results.items():
            r = await http.put(f"/api/audits/{audit_id}/checkpoints/{key}", json=result)
            assert r.status_code == 200, r.text
        r = await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200 and r.json()["result"] == "pass", r.text
    return audit_id


async def actions(parties: Parties, audit_id: str, who: str = "lead") -> list[dict[str, Any]]:
    async with parties.client(who) as http:
        r = await http.get(f"/api/audits/{audit_id}/actions")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def capa_link(parties: Parties, audit_id: str) -> dict[str, Any]:
    async with parties.client("lead") as http:
        r = await http.post(f"/api/audits/{audit_id}/capa-link")
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def respond(server: LiveServer, token: str, action_id: str, text: str, photo: bytes | None) -> Any:
    files = {"file": ("fixed.jpg", photo, "image/jpeg")} if photo is not None else None
    async with server.client() as http:
        return await http.post(
            f"/api/capa/{token}/actions/{action_id}/responses", data={"text": text}, files=files
        )


async def decide(parties: Parties, who: str, audit_id: str, action_id: str, decision: str) -> Any:
    async with parties.client(who) as http:
        return await http.post(
            f"/api/audits/{audit_id}/actions/{action_id}/decision",
            json={"decision": decision, "comment": f"{decision}ed by {who}"},
        )


async def test_findings_become_actions_answered_decided_and_the_certificate_extended(
    server: LiveServer, tmp_path: Path
) -> None:
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties)
    [action] = await actions(parties, audit_id)
    assert action["checkpoint"] == "fence" and action["level"] == "should"
    assert action["description"] == "Repair the fence" and action["due_date"] == DUE
    assert action["status"] == "open" and not action["overdue"] and action["responses"] == []

    first = (await accept(parties, audit_id))["certificate"]
    doc = (await public_file(server, first["id"]))["certificate"]
    assert doc["validity_years"] == 1 and "1 corrective action(s) open" in doc["rule"]

    link = await capa_link(parties, audit_id)
    assert link["url"].endswith(f"/capa/{link['token']}")
    async with server.client() as http:
        page = await http.get(f"/capa/{link['token']}")
    assert page.status_code == 200 and "Repair the fence" in page.text and DUE in page.text

    r = await respond(server, link["token"], action["id"], "New fence posts", jpeg("fence"))
    assert r.status_code == 201, r.text
    assert r.json()["photo"]["width"] == 160
    r = await decide(parties, "reviewer", audit_id, action["id"], "reject")
    assert r.status_code == 201 and not r.json()["all_accepted"], r.text
    assert (await actions(parties, audit_id))[0]["status"] == "rejected"
    r = await respond(server, link["token"], action["id"], "And a new gate lock", None)
    assert r.status_code == 201, r.text
    r = await decide(parties, "lead", audit_id, action["id"], "accept")
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["all_accepted"] and answer["certificate"]["extends"]["certificate"] == first["id"]

    [done] = await actions(parties, audit_id)
    assert done["status"] == "accepted" and done["closed_at"]
    assert [x["text"] for x in done["responses"]] == ["New fence posts", "And a new gate lock"]
    assert [x["decision"] for x in done["decisions"]] == ["reject", "accept"]
    async with parties.client("member1") as http:  # not shared: the audit does not exist for them
        assert (await http.get(done["responses"][0]["photo"]["url"])).status_code == 404
    async with parties.client("reviewer") as http:
        photo = await http.get(done["responses"][0]["photo"]["url"])
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        report = await http.get(f"/audits/{audit_id}/report")
    assert 'data-testid="corrective-actions"' in report.text and "New fence posts" in report.text

    # The certificate: a new one, 2 years from the first one's issue, superseding it
    new = (await public_file(server, answer["certificate"]["id"]))["certificate"]
    old = (await public_file(server, first["id"]))["certificate"]
    assert new["validity_years"] == 2 and "no corrective action open" in new["rule"]
    issued = dt.datetime.fromisoformat(doc["issued"])
    assert dt.datetime.fromisoformat(new["expires"]) == issued.replace(year=issued.year + 2)
    assert old["status"] == "superseded" and old["superseded_by"]["certificate"] == new["id"]

    # The audit's ledger: four corrective-action entries after the completion, verified
    async with parties.client("lead") as http:
        export = await http.get(f"/api/audits/{audit_id}/export")
    assert export.status_code == 200
    package = tmp_path / "audit.zip"
    package.write_bytes(export.content)
    report_ = verify_package(package, server.app_ctx().signer.public_pem)
    assert report_.ok, report_.problems
    with zipfile.ZipFile(package) as zf:
        lines = [json.loads(x) for x in zf.read("ledger/entries.jsonl").splitlines()]
        names = zf.namelist()
    done_at = next(i for i, e in enumerate(lines) if e["type"] == "event" and e["kind"] == "complete")
    after = lines[done_at + 1 :]
    assert [(e["type"], e["kind"], e["action"]) for e in after] == [
        ("corrective-action", kind, action["id"]) for kind in ("response", "decision") * 2
    ]
    assert [e["data"].get("decision") for e in after] == [None, "reject", None, "accept"]
    assert after[0]["path"] in names and "path" not in after[2]


async def test_nothing_else_is_appended_to_a_completed_audit(server: LiveServer, tmp_path: Path) -> None:
    """The exception is for corrective-action entries only; and verify still fails anything else."""
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties)
    app = server.app_ctx()
    async with app.db.session() as s:
        for ok in (False, True):
            event = AuditEvent(audit_id=audit_id, kind="note", actor="user:x", data={})
            fields = {"type": "event", "kind": "note", "actor": "user:x", "data": {}}
            with pytest.raises(AuditSealed):
                await commit_with_entry(s, audit_id, [event], lambda f=fields: f, after_completion_ok=ok)
    async with app.db.session() as s:
        size = len(await ledger_repo.entries(s, audit_id))
        # a forged late entry, straight into the table, signed: verify names it
        body, leaf = ledger_repo.build_entry(
            audit_id, size, {"type": "event", "kind": "note", "actor": "user:x", "data": {}}
        )
        s.add(ledger_repo.LedgerEntry(audit_id=audit_id, seq=size, body=body, leaf_hash=leaf))
        await s.commit()
    async with parties.client("lead") as http:
        export = await http.get(f"/api/audits/{audit_id}/export")
    package = tmp_path / "late.zip"
    package.write_bytes(export.content)
    report = verify_package(package)
    assert not report.ok
    assert [p for p in report.problems if "after the completion" in p] == [
        f"ledger/entries.jsonl: 1 entries after the completion at line {size}, which seals the audit "
        f"(only corrective-action entries may follow it): line {size + 1} (event note)"
    ]


async def test_who_may_link_answer_and_decide(server: LiveServer) -> None:
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties)
    [action] = await actions(parties, audit_id)
    for who, status in (("reviewer", 403), ("auditor_b", 404), ("member1", 404), ("admin", 201)):
        async with parties.client(who) as http:
            assert (await http.post(f"/api/audits/{audit_id}/capa-link")).status_code == status, who
    link = await capa_link(parties, audit_id)
    r = await decide(parties, "lead", audit_id, action["id"], "accept")
    assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_decide"
    r = await respond(server, link["token"], action["id"], "", None)
    assert r.status_code == 422
    r = await respond(server, link["token"], action["id"], "Done", b"not a picture")
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_an_image"
    r = await respond(server, link["token"], "no-such-action", "Done", None)
    assert r.status_code == 404
    r = await respond(server, link["token"], action["id"], "Done", None)
    assert r.status_code == 201
    for who, status in (("admin", 403), ("auditor_b", 404), ("member1", 404)):
        assert (await decide(parties, who, audit_id, action["id"], "accept")).status_code == status, who
    async with parties.client("lead") as http:
        r = await http.post(
            f"/api/audits/{audit_id}/actions/{action['id']}/decision", json={"decision": "reject"}
        )
        assert r.status_code == 422  # a rejection says why
        assert (await http.delete(f"/api/audits/{audit_id}/capa-link")).json()["revoked"] == 2
    r = await respond(server, link["token"], action["id"], "Done again", None)
    assert r.status_code == 404
    async with server.client() as http:
        assert (await http.get(f"/capa/{link['token']}")).status_code == 404


async def test_an_open_audit_has_no_actions_and_no_link(server: LiveServer) -> None:
    parties = await make_parties(server)
    async with parties.client("lead") as http:
        audit_id = str(
            (await http.post("/api/audits", json={"facility": {"name": "F", "country": "VN"}})).json()["id"]
        )
        assert (await http.post(f"/api/audits/{audit_id}/capa-link")).status_code == 409
        assert (await http.get(f"/api/audits/{audit_id}/actions")).json() == {"items": []}


async def test_an_unaccepted_audit_counts_actions_when_reviewed(server: LiveServer) -> None:
    """All actions closed before the review: the certificate it issues has the long validity."""
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties, "Plant Two")
    [action] = await actions(parties, audit_id)
    link = await capa_link(parties, audit_id)
    assert (await respond(server, link["token"], action["id"], "Fixed", None)).status_code == 201
    r = await decide(parties, "reviewer", audit_id, action["id"], "accept")
    assert r.status_code == 201 and r.json()["all_accepted"] and r.json()["certificate"] is None
    doc = (await public_file(server, (await accept(parties, audit_id))["certificate"]["id"]))["certificate"]
    assert doc["validity_years"] == 2 and "extends" not in doc


def test_an_open_action_past_its_due_date_is_overdue() -> None:
    action = CorrectiveAction(
        id="a",
        audit_id="x",
        checkpoint_key="fence",
        title="Fence",
        level="should",
        description="Fix",
        due_date=dt.date(2030, 1, 1),
        status="responded",
    )
    assert capa.action_json(action, [], dt.date(2030, 1, 2))["overdue"]
    assert not capa.action_json(action, [], dt.date(2030, 1, 1))["overdue"]
    action.status = "accepted"
    assert not capa.action_json(action, [], dt.date(2031, 1, 1))["overdue"]
