"""Completion rules through the real API: an audit cannot pass by accident."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from server.db.models import Segment
from tests.parties import jpeg
from tests.support import LiveServer, new_invite
from tests.test_guided_signaling import next_of
from tests.test_photo_upload import as_staff, photo_form

TEMPLATE = """\
key: gate-check
version: 1
title: Gate check
languages: [en]
sections:
  - key: site
    title: Site
    checkpoints:
      - key: gate
        criteria: ["9.4"]
        level: must
        title: Main gate
        instruction:
          en: Show the main gate.
      - key: fence
        criteria: ["9.1"]
        level: should
        title: Fence line
        instruction:
          en: Walk along the fence.
"""


@dataclass(frozen=True)
class Case:
    name: str
    results: dict[str, str]
    video: bool
    body: dict[str, Any]
    status: int
    code: str | None = None
    keys: list[str] = field(default_factory=list)


CASES = [
    Case("open checkpoints need confirmation", {}, True, {}, 409, "open_checkpoints", ["gate", "fence"]),
    Case(
        "everything N/A, never live, one click",
        {"gate": "not_applicable", "fence": "not_applicable"},
        False,
        {},
        409,
        "reason_required",
        ["never_live", "gate"],
    ),
    Case(
        "never live without a reason",
        {"gate": "meets", "fence": "meets"},
        False,
        {"confirm_open": True, "reasons": {"gate": "not needed"}},
        409,
        "reason_required",
        ["never_live"],
    ),
    Case(
        "a blank reason is no reason",
        {"gate": "not_applicable", "fence": "meets"},
        True,
        {"reasons": {"gate": "   "}},
        409,
        "reason_required",
        ["gate"],
    ),
    Case(
        "MUST N/A and never live, with reasons",
        {"gate": "not_applicable", "fence": "not_applicable"},
        False,
        {"reasons": {"never_live": "Camera broke; seen on photos.", "gate": "No gate at this site."}},
        200,
        keys=["never_live", "gate"],
    ),
    Case("live, all meets: no reason asked", {"gate": "meets", "fence": "meets"}, True, {}, 200),
    Case("a SHOULD N/A needs no reason", {"gate": "meets", "fence": "not_applicable"}, True, {}, 200),
    Case(
        "open confirmed, live: fails without reasons",
        {"fence": "meets"},
        True,
        {"confirm_open": True},
        200,
    ),
    Case("reasons must be text", {}, True, {"confirm_open": True, "reasons": {"gate": 5}}, 422, "invalid"),
]


async def add_video(server: LiveServer, audit_id: str) -> None:
    """A recorded segment with video frames: what a live camera leaves behind."""
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1e9)
    async with server.app_ctx().db.session() as s:
        s.add(
            Segment(
                audit_id=audit_id,
                seq=0,
                codec="vp8",
                start_ns=now,
                end_ns=now + 1,
                video_frames=10,
                audio_frames=0,
                size=1,
                sha256="0" * 64,
                index_sha256="0" * 64,
                blob=f"{audit_id}/0.webm",
                index_blob=f"{audit_id}/0.index.jsonl",
            )
        )
        await s.commit()


async def audit_for(server: LiveServer, http: httpx.AsyncClient, case: Case) -> str:
    body = {"facility": {"name": "Plant", "country": "ID"}, "template": "gate-check"}
    audit_id = str((await http.post("/api/audits", json=body)).json()["id"])
    for key, result in case.results.items():
        r = await http.put(f"/api/audits/{audit_id}/checkpoints/{key}", json={"result": result})
        assert r.status_code == 200, r.text
    if case.video:
        await add_video(server, audit_id)
    return audit_id


async def test_completion_rules_table(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/templates", content=TEMPLATE, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
        for case in CASES:
            audit_id = await audit_for(server, http, case)
            r = await http.post(f"/api/audits/{audit_id}/complete", json=case.body)
            assert r.status_code == case.status, (case.name, r.text)
            if case.code is not None:
                error = r.json()["error"]
                assert error["code"] == case.code, case.name
                if case.keys:
                    assert error["keys"] == case.keys, case.name
                continue
            outcome = r.json()
            assert [item["key"] for item in outcome["reasons"]] == case.keys, case.name
            assert outcome["ict"]["media_ever_live"] is case.video, case.name


async def test_reasons_are_sealed_in_the_ledger_and_shown_on_the_report(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        await http.post("/api/templates", content=TEMPLATE, headers={"Content-Type": "application/yaml"})
        case = CASES[4]
        audit_id = await audit_for(server, http, case)
        preview = (await http.get(f"/api/audits/{audit_id}/complete")).json()
        assert [r["key"] for r in preview["reasons_required"]] == ["never_live", "gate"]
        assert preview["open_checkpoints"] == [] and preview["media_ever_live"] is False
        r = await http.post(f"/api/audits/{audit_id}/complete", json=case.body)
        assert r.status_code == 200, r.text
        assert r.json()["result"] == "pass"
        entries = (await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"]
        sealed = entries[-1]["data"]["outcome"]["reasons"]
        assert {item["key"]: item["reason"] for item in sealed} == {
            "never_live": "Camera broke; seen on photos.",
            "gate": "No gate at this site.",
        }
        report = (await http.get(f"/audits/{audit_id}/report")).text
        assert "Camera broke; seen on photos." in report and "No gate at this site." in report
        assert (await http.get(f"/api/audits/{audit_id}/complete")).status_code == 409


async def queue_report(
    server: LiveServer, audit_id: str, token: str, count: int, photos: list[bytes] | None = None
) -> None:
    """A phone (the same device each time) joins, reports ``count`` photos waiting (``photos``:
    with their hashes and sizes), and leaves once the report is handled (its ping is answered
    after it): the phone's last word stays."""
    async with websockets.connect(server.ws_url(audit_id)) as phone:
        await phone.send(json.dumps({"type": "join", "token": token, "device": "phone-device-1"}))
        await next_of(phone, "welcome")
        oldest = 30.0 if count else None
        report: dict[str, Any] = {
            "type": "photo-queue",
            "count": count,
            "bytes": count * 2_000_000,
            "oldest_s": oldest,
        }
        if photos is not None:
            report["sha256s"] = [hashlib.sha256(photo).hexdigest() for photo in photos]
            report["bytes"] = sum(len(photo) for photo in photos)
        await phone.send(json.dumps(report))
        await phone.send(json.dumps({"type": "ping"}))
        await next_of(phone, "pong")


async def test_photos_still_on_a_phone_need_a_written_reason_to_complete(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        await http.post("/api/templates", content=TEMPLATE, headers={"Content-Type": "application/yaml"})
        audit_id = await audit_for(server, http, CASES[5])  # live, all meets: nothing else to explain
        invite = await new_invite(http, audit_id, label="Rahim")
        preview = (await http.get(f"/api/audits/{audit_id}/complete")).json()
        assert preview["reasons_required"] == [] and preview["photos_queued"]["count"] == 0

        # The phone reports two photos waiting, then loses its link: the server still knows.
        await queue_report(server, audit_id, invite["token"], 2)
        preview = (await http.get(f"/api/audits/{audit_id}/complete")).json()
        assert [r["key"] for r in preview["reasons_required"]] == ["photos_queued"]
        assert preview["reasons_required"][0]["label"].startswith("2 photos taken on the facility phone")
        [phone] = preview["photos_queued"]["phones"]
        assert (phone["name"], phone["count"], phone["bytes"]) == ("Rahim", 2, 4_000_000)

        # Its queue emptied (the photos arrived): nothing to explain any more.
        await queue_report(server, audit_id, invite["token"], 0)
        preview = (await http.get(f"/api/audits/{audit_id}/complete")).json()
        assert preview["reasons_required"] == [] and preview["photos_queued"]["phones"] == []

        await queue_report(server, audit_id, invite["token"], 1)
        r = await http.post(f"/api/audits/{audit_id}/complete", json={"confirm_open": True})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "reason_required"
        assert r.json()["error"]["keys"] == ["photos_queued"]
        assert "1 photo taken on the facility phone" in r.json()["error"]["message"]

        reason = "Phone out of battery; the facility hands the photo over by e-mail."
        r = await http.post(f"/api/audits/{audit_id}/complete", json={"reasons": {"photos_queued": reason}})
        assert r.status_code == 200, r.text
        entries = (await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"]
        sealed = entries[-1]["data"]["outcome"]
        assert [(item["key"], item["reason"]) for item in sealed["reasons"]] == [("photos_queued", reason)]
        assert sealed["photos_queued"]["count"] == 1
        assert sealed["photos_queued"]["phones"][0]["name"] == "Rahim"
        assert reason in (await http.get(f"/audits/{audit_id}/report")).text


async def test_a_listed_photo_that_arrives_is_counted_off_without_another_report(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        await http.post("/api/templates", content=TEMPLATE, headers={"Content-Type": "application/yaml"})
        audit_id = await audit_for(server, http, CASES[5])
        invite = await new_invite(http, audit_id, label="Rahim")
        gate, fence = jpeg("gate"), jpeg("fence", width=320, height=240)
        # The phone lists its two photos, then its socket goes; the photos go out over HTTP.
        await queue_report(server, audit_id, invite["token"], 2, [gate, fence])
        r = await http.get(f"/api/audits/{audit_id}/complete")
        assert r.status_code == 200, r.text
        queued = r.json()["photos_queued"]
        assert (queued["count"], queued["bytes"]) == (2, len(gate) + len(fence))

        upload = f"/api/audits/{audit_id}/photos"
        r = await http.post(upload, headers=as_staff(invite, "q-gate"), **photo_form(gate, sha(gate)))
        assert r.status_code == 201, r.text
        preview = (await http.get(f"/api/audits/{audit_id}/complete")).json()
        assert preview["photos_queued"]["count"] == 1
        assert preview["photos_queued"]["phones"][0]["bytes"] == len(fence)
        assert preview["reasons_required"][0]["label"].startswith("1 photo taken on the facility phone")

        r = await http.post(upload, headers=as_staff(invite, "q-fence"), **photo_form(fence, sha(fence)))
        assert r.status_code == 201, r.text
        preview = (await http.get(f"/api/audits/{audit_id}/complete")).json()
        assert preview["reasons_required"] == [] and preview["photos_queued"]["count"] == 0
        # ... and completing needs no reason for them.
        r = await http.post(f"/api/audits/{audit_id}/complete", json={"confirm_open": True})
        assert r.status_code == 200, r.text


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
