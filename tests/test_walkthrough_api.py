"""Templates, checkpoints, results, photos and completion through the real API."""

from __future__ import annotations

import io
from typing import Any

import cv2
import httpx
import numpy as np

from tests.support import COMPLETE_ANYWAY, LiveServer, new_invite

GOOD = """\
key: dock-check
version: 1
title: Loading dock check
languages: [en]
sections:
  - key: dock
    title: Dock
    checkpoints:
      - key: dock-gate
        criteria: ["9.4"]
        level: must
        title: Dock gate
        instruction:
          en: Show the gate of the loading dock.
        captures_required: 1
"""


async def create(http: httpx.AsyncClient, template: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"facility": {"name": "Plant", "country": "ID"}}
    if template:
        body["template"] = template
    r = await http.post("/api/audits", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def jpeg(width: int = 320, height: int = 240) -> bytes:
    image = np.zeros((height, width, 3), np.uint8)
    cv2.circle(image, (width // 2, height // 2), 50, (0, 200, 255), -1)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


async def test_templates_are_listed_and_audits_default_to_the_site_walk(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        keys = [t["key"] for t in (await http.get("/api/templates")).json()["items"]]
        assert keys == ["container-7-point", "ctpat-fm-walkthrough", "tractor-trailer-17-point"]
        audit = await create(http)
        assert audit["template"]["key"] == "ctpat-fm-walkthrough"
        view = (await http.get(f"/api/audits/{audit['id']}/checkpoints")).json()
        first = view["sections"][0]["checkpoints"][0]
        assert first["kind"] == "identity" and first["state"] == "open"
        r = await http.post(
            "/api/audits", json={"facility": {"name": "X", "country": "CN"}, "template": "nope"}
        )
        assert r.status_code == 422 and "unknown template" in r.json()["error"]["message"]


async def test_bad_template_upload_lists_every_problem_with_lines(server: LiveServer, api_token: str) -> None:
    bad = GOOD.replace("level: must", "level: maybe").replace("captures_required: 1", "captures_requird: 1")
    async with server.client(api_token) as http:
        r = await http.post("/api/templates", content=bad, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 422
        problems = r.json()["error"]["problems"]
        lines = {p["line"] for p in problems}
        assert lines == {11, 15}, problems
        assert any("captures_required" in p["message"] for p in problems)  # the did-you-mean hint


async def test_snapshot_is_unaffected_by_later_template_versions(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/templates", content=GOOD, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
        audit = await create(http, "dock-check")
        v2 = GOOD.replace("version: 1", "version: 2").replace("Dock gate", "Dock gate and barrier")
        assert (await http.post("/api/templates", json={"yaml": v2})).status_code == 201
        assert (await http.post("/api/templates", json={"yaml": v2})).status_code == 409  # not newer
        old = (await http.get(f"/api/audits/{audit['id']}/checkpoints")).json()
        assert old["template"]["version"] == 1
        assert old["sections"][0]["checkpoints"][0]["title"] == "Dock gate"
        new = await create(http, "dock-check")
        assert new["template"]["version"] == 2


async def test_meets_needs_its_captures_and_photos_count(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit = await create(http, "container-7-point")
        aid = audit["id"]
        r = await http.put(f"/api/audits/{aid}/checkpoints/front-wall", json={"result": "meets"})
        assert r.status_code == 409
        assert r.json()["error"]["message"].endswith(
            "needs 1 capture(s) before it can be marked meets; it has 0"
        )
        invite = await new_invite(http, aid)
        files = {"file": ("wall.jpg", jpeg(), "image/jpeg")}
        auth = {"Authorization": f"Invite {invite['token']}"}
        photo = await http.post(
            f"/api/audits/{aid}/photos",
            files=files,
            data={
                "checkpoint": "front-wall",
                "device_time": "2026-11-28T08:00:00Z",
                "lat": "10.9",
                "lon": "106.7",
            },
            headers=auth,
        )
        assert photo.status_code == 201, photo.text
        item = photo.json()
        assert (item["kind"], item["checkpoint"], item["width"], item["height"]) == (
            "photo",
            "front-wall",
            320,
            240,
        )
        r = await http.put(
            f"/api/audits/{aid}/checkpoints/front-wall", json={"result": "meets", "note": "clean"}
        )
        assert r.status_code == 200 and r.json()["result"] == "meets"
        # Other results need no capture.
        r = await http.put(f"/api/audits/{aid}/checkpoints/floor", json={"result": "does_not_meet"})
        assert r.status_code == 200
        r = await http.put(f"/api/audits/{aid}/checkpoints/floor", json={"result": "great"})
        assert r.status_code == 422
        r = await http.put(f"/api/audits/{aid}/checkpoints/no-such", json={"result": "meets"})
        assert r.status_code == 404


async def test_photo_upload_limits_and_bad_files(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit = await create(http, "container-7-point")
        aid = audit["id"]
        invite = await new_invite(http, aid)
    auth = {"Authorization": f"Invite {invite['token']}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth, timeout=30) as staff:
        r = await staff.post(
            f"/api/audits/{aid}/photos", files={"file": ("x.jpg", b"this is not a picture", "image/jpeg")}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_an_image"
        truncated = jpeg()[:200]
        r = await staff.post(f"/api/audits/{aid}/photos", files={"file": ("x.jpg", truncated, "image/jpeg")})
        assert r.status_code == 422
        big = io.BytesIO(b"\xff\xd8\xff" + b"\0" * (16 * 1024 * 1024))
        r = await staff.post(f"/api/audits/{aid}/photos", files={"file": ("big.jpg", big, "image/jpeg")})
        assert r.status_code == 413
        r = await staff.post(f"/api/audits/{aid}/photos", data={"checkpoint": "floor"})
        assert r.status_code == 422
        r = await staff.post(
            f"/api/audits/{aid}/photos",
            files={"file": ("x.jpg", jpeg(), "image/jpeg")},
            headers={"Authorization": "Invite wrong"},
        )
        assert r.status_code == 401
    async with server.client(api_token) as http:
        other = await create(http)
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as staff:
        r = await staff.post(
            f"/api/audits/{other['id']}/photos", files={"file": ("x.jpg", jpeg(), "image/jpeg")}
        )
        assert r.status_code == 403


async def test_complete_with_open_checkpoints_needs_confirmation_and_fails(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        audit = await create(http, "container-7-point")
        aid = audit["id"]
        r = await http.post(f"/api/audits/{aid}/complete", json={})
        assert r.status_code == 409 and r.json()["error"]["code"] == "open_checkpoints"
        r = await http.post(f"/api/audits/{aid}/complete", json={"confirm_open": True})
        assert r.status_code == 409 and r.json()["error"]["keys"] == ["never_live"]
        r = await http.post(f"/api/audits/{aid}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200
        outcome = r.json()
        assert outcome["result"] == "fail"
        assert "front-wall" in outcome["not_assessed"] and "reefer-unit" not in outcome["states"]
        assert outcome["ict"]["checkpoints_assessed"] == 0
        # Read-only from now on.
        r = await http.put(f"/api/audits/{aid}/checkpoints/floor", json={"result": "not_applicable"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "audit_completed"
        assert (await http.post(f"/api/audits/{aid}/invites", json={})).status_code == 409
        assert (await http.get(f"/api/audits/{aid}/outcome")).json()["result"] == "fail"
        got = (await http.get(f"/api/audits/{aid}")).json()
        assert got["status"] == "completed" and got["outcome"]["result"] == "fail"


async def test_passing_audit_and_its_report(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        await http.post("/api/templates", content=GOOD, headers={"Content-Type": "application/yaml"})
        audit = await create(http, "dock-check")
        aid = audit["id"]
        invite = await new_invite(http, aid)
        files = {"file": ("gate.jpg", jpeg(), "image/jpeg")}
        auth = {"Authorization": f"Invite {invite['token']}"}
        photo = (
            await http.post(
                f"/api/audits/{aid}/photos", files=files, data={"checkpoint": "dock-gate"}, headers=auth
            )
        ).json()
        assert (
            await http.put(f"/api/audits/{aid}/checkpoints/dock-gate", json={"result": "meets"})
        ).status_code == 200
        # Seen on a photo only: the camera never went live, which needs saying.
        no_reason = (await http.post(f"/api/audits/{aid}/complete", json={})).json()
        assert no_reason["error"] == {
            "code": "reason_required",
            "message": no_reason["error"]["message"],
            "keys": ["never_live"],
        }
        reasons = {"never_live": "The facility had no signal; the gate was checked on a photo."}
        outcome = (await http.post(f"/api/audits/{aid}/complete", json={"reasons": reasons})).json()
        assert outcome["result"] == "pass" and outcome["score"] == 1.0
        assert outcome["ict"]["verified_by_photo"] == 1
        report = await http.get(f"/audits/{aid}/report")
        assert report.status_code == 200
        assert "Dock gate" in report.text and photo["sha256"][:12] in report.text
        assert reasons["never_live"] in report.text


async def test_the_audits_page_offers_every_checklist(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        await http.post("/api/templates", content=GOOD, headers={"Content-Type": "application/yaml"})
        page = await http.get("/audits")
    assert page.status_code == 200
    assert 'data-testid="new-audit-template"' in page.text
    for key in ("container-7-point", "ctpat-fm-walkthrough", "tractor-trailer-17-point", "dock-check"):
        assert f'value="{key}"' in page.text, key
    assert 'value="ctpat-fm-walkthrough" selected' in page.text
