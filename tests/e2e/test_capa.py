"""A corrective action answered from a phone in real Chromium, through the facility's link:
the photo re-taken over the faint original, then accepted by the reviewer on the report,
then the audit's export verified with the response in it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from recorder.verify import verify_package
from tests.e2e.test_admin import signed_in
from tests.parties import jpeg, make_parties
from tests.support import LiveServer
from tests.test_capa import actions, audit_with_finding, capa_link

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


async def test_the_facility_answers_from_a_phone_and_the_reviewer_accepts(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties, "Plant Phone", fence_photo=jpeg("old fence", 320, 240))
    [action] = await actions(parties, audit_id)
    link = await capa_link(parties, audit_id)

    phone_context = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    await phone_context.grant_permissions(["camera"], origin=server.base_url)
    phone = await phone_context.new_page()
    await phone.goto(link["url"])
    card = phone.get_by_test_id("capa-action")
    await expect(card).to_have_attribute("data-status", "open")

    # the re-capture: the live camera with the original picture faint over it
    await card.get_by_test_id("recapture-open").click()
    panel = card.get_by_test_id("recapture")
    await expect(panel).to_have_attribute("data-state", "live", timeout=20_000)
    ghost = card.get_by_test_id("recapture-ghost")
    await expect(ghost).to_have_js_property("complete", True)
    assert await ghost.evaluate("img => img.naturalWidth") == 320
    assert await ghost.evaluate("img => getComputedStyle(img).opacity") == "0.4"
    await card.get_by_test_id("recapture-opacity").fill("20")
    assert await ghost.evaluate("img => getComputedStyle(img).opacity") == "0.2"
    await card.get_by_test_id("recapture-toggle").click()
    assert await ghost.evaluate("img => getComputedStyle(img).opacity") == "0"
    await card.get_by_test_id("recapture-toggle").click()
    box = await card.get_by_test_id("recapture-video").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]  # fits the phone's screen
    await card.get_by_test_id("recapture-shoot").click()
    await expect(card.get_by_test_id("recapture-taken")).to_be_visible()
    await expect(panel).to_be_hidden()
    files = await card.get_by_test_id("capa-photo-input").evaluate("i => i.files.length")
    assert files == 1

    await card.get_by_label("What was done").fill("New fence posts, photographed from the same spot")
    await card.get_by_test_id("capa-send").click()
    card = phone.get_by_test_id("capa-action")
    await expect(card).to_have_attribute("data-status", "responded", timeout=20_000)
    thumb = card.get_by_test_id("capa-photo")
    await expect(thumb).to_be_visible()
    await expect(thumb).to_have_js_property("complete", True)
    width = await thumb.evaluate("img => img.naturalWidth")
    assert width > 0, "the response's thumbnail did not load through the link"
    await phone_context.close()

    # the reviewer accepts it on the report
    page = await signed_in(browser, server, parties.email("reviewer"), f"/audits/{audit_id}/report")
    article = page.get_by_test_id("capa-action")
    await expect(article).to_have_attribute("data-status", "responded")
    await expect(article.locator("img.capa-thumb")).to_be_visible()
    await article.get_by_label("Comment").fill("Fence repaired")
    await article.get_by_role("button", name="Accept").click()
    await expect(page.get_by_test_id("capa-action")).to_have_attribute("data-status", "accepted")
    await page.context.close()

    # the original audit's export verifies and lists the response
    async with parties.client("lead") as http:
        export = await http.get(f"/api/audits/{audit_id}/export")
    assert export.status_code == 200, export.text
    package = tmp_path / "audit.zip"
    package.write_bytes(export.content)
    report = verify_package(package, server.app_ctx().signer.public_pem)
    assert report.ok, report.problems
    assert report.summary["corrective_actions"] == (
        "1 response(s) (1 with a photo, 0 with a video), 1 decision(s) (1 accept), on 1 action(s)"
    )
    with zipfile.ZipFile(package) as zf:
        entries = [json.loads(x) for x in zf.read("ledger/entries.jsonl").splitlines()]
        names = set(zf.namelist())
        follow_up = zf.read("corrective-actions.html").decode()
    answers = [e for e in entries if e["type"] == "corrective-action" and e["action"] == action["id"]]
    assert [e["kind"] for e in answers] == ["response", "decision"]
    assert answers[0]["data"]["text"] == "New fence posts, photographed from the same spot"
    assert answers[0]["path"] in names and answers[1]["data"]["decision"] == "accept"
    assert f'src="{answers[0]["path"]}"' in follow_up and "Fence repaired" in follow_up
