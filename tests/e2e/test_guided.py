"""The guided walkthrough in real Chromium: the auditor steps through a checklist, the phone
follows it, evidence binds to the checkpoint on screen, and the completed audit's report
lists every checkpoint with its evidence."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.page_watch import open_console, open_staff
from tests.support import LiveServer, new_invite

pytestmark = pytest.mark.e2e

TEMPLATE = "container-7-point"


async def guided_audit(http: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]]:
    """A new audit on the 7-point container template, and its checkpoints in order."""
    r = await http.post(
        "/api/audits",
        json={"facility": {"name": "Haiphong Box Yard", "country": "VN"}, "template": TEMPLATE},
    )
    assert r.status_code == 201, r.text
    audit_id = str(r.json()["id"])
    r = await http.get(f"/api/audits/{audit_id}/checkpoints")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["template"]["key"] == TEMPLATE
    return audit_id, [cp for section in view["sections"] for cp in section["checkpoints"]]


async def open_guided_console(browser: Browser, server: LiveServer, audit_id: str) -> Page:
    """The console, after the auditor accepted the recording notice and its dialog closed."""
    console = await open_console(browser, server, audit_id)
    await expect(console.get_by_test_id("consent-dialog")).to_be_hidden()
    return console


async def live_guided_pair(
    server: LiveServer, api_token: str, browser: Browser
) -> tuple[str, list[dict[str, Any]], Page, Page]:
    async with server.client(api_token) as http:
        audit_id, checkpoints = await guided_audit(http)
        invite = await new_invite(http, audit_id, label="Linh")
    console = await open_guided_console(browser, server, audit_id)
    staff = await open_staff(browser, invite["url"])
    for page in (staff, console):
        await expect(page.get_by_test_id("connection-state")).to_have_attribute(
            "data-state", "connected", timeout=20_000
        )
    return audit_id, checkpoints, console, staff


# How far across the phone's preview the pointer ring's centre is (0 to 1), while it shows.
RING_ACROSS_PREVIEW = """() => {
  const ring = document.querySelector('[data-testid="pointer-marker"]');
  const preview = document.querySelector('[data-testid="local-video"]');
  if (!ring || ring.hidden || !preview) return null;
  const r = ring.getBoundingClientRect();
  const p = preview.getBoundingClientRect();
  return r.width && p.width ? (r.x + r.width / 2 - p.x) / p.width : null;
}"""


def list_item(console: Page, key: str) -> Any:
    return console.locator(f'[data-testid="checkpoint"][data-key="{key}"]')


async def test_walk_follows_the_auditor_binds_evidence_and_reports_it(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    audit_id, checkpoints, console, staff = await live_guided_pair(server, api_token, browser)
    total = len(checkpoints)
    instruction = staff.get_by_test_id("staff-instruction")
    await expect(instruction).to_contain_text("Wait for the auditor")
    await expect(staff.get_by_test_id("recording-indicator")).to_be_visible()
    await expect(console.get_by_test_id("checkpoint")).to_have_count(total)
    await expect(console.get_by_test_id("progress")).to_have_text(f"0 of {total} assessed")

    captures = console.get_by_test_id("evidence-item")
    required = [cp for cp in checkpoints if not cp["optional"]]
    for n, cp in enumerate(checkpoints):
        await console.keyboard.press("n")
        await expect(list_item(console, cp["key"])).to_have_attribute("aria-current", "step")
        await expect(instruction).to_contain_text(cp["instruction"])
        await expect(staff.get_by_test_id("staff-step")).to_contain_text(f"Step {n + 1} of {total}")
        if cp["optional"]:
            continue  # the reefer point: a dry container has none
        assert cp["captures_required"] == 1
        if n == 0:
            await console.get_by_test_id("result-meets").click()
            await expect(console.get_by_test_id("result-error")).to_contain_text(
                f"'{cp['title']}' needs 1 capture(s) before it can be marked meets; it has 0"
            )
            await expect(list_item(console, cp["key"])).to_have_attribute("data-state", "current")

        before = await captures.count()
        await console.keyboard.press("c")
        await expect(captures).to_have_count(before + 1, timeout=10_000)
        newest = captures.first
        await expect(newest).to_have_attribute("data-checkpoint", cp["key"])
        await expect(newest).to_contain_text(cp["title"])
        await expect(console.get_by_test_id("checkpoint-captures")).to_contain_text("1 of 1")

        await console.get_by_test_id("result-meets").click()
        await expect(list_item(console, cp["key"])).to_have_attribute("data-state", "meets")
        await expect(console.get_by_test_id("result-error")).to_be_hidden()
        await expect(console.get_by_test_id("result-meets")).to_have_attribute("aria-pressed", "true")

    await expect(console.get_by_test_id("progress")).to_have_text(f"{len(required)} of {total} assessed")
    async with server.client(api_token) as http:
        r = await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "capture"})
    assert r.status_code == 200, r.text
    bound = sorted(item["checkpoint"] for item in r.json()["items"])
    assert bound == sorted(cp["key"] for cp in required)

    # Completing always asks; the camera was live and nothing is open, so no reason is needed.
    await console.get_by_test_id("complete-audit").click()
    await expect(console.get_by_test_id("complete-dialog")).to_be_visible()
    await expect(console.get_by_test_id("complete-reasons")).to_be_hidden()
    await console.get_by_test_id("complete-confirm").click()
    outcome = console.get_by_test_id("outcome")
    await expect(outcome).to_be_visible(timeout=10_000)
    await expect(outcome).to_have_attribute("data-result", "pass")
    await expect(outcome).to_contain_text("PASS")
    await expect(console.get_by_test_id("result-meets")).to_be_disabled()
    await expect(staff.get_by_text("Audit finished")).to_be_visible(timeout=10_000)

    await console.get_by_test_id("report-link").click()
    await console.wait_for_url(f"**/audits/{audit_id}/report")
    await expect(console.get_by_test_id("report-result")).to_have_attribute("data-result", "pass")
    await expect(console.get_by_test_id("report-checkpoint")).to_have_count(total)
    for cp in checkpoints:
        evidence = console.locator(
            f'[data-testid="report-checkpoint"][data-key="{cp["key"]}"] [data-testid="report-evidence"]'
        )
        await expect(evidence).to_have_count(0 if cp["optional"] else 1)


async def test_pointer_and_photo_request_reach_the_phone(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    audit_id, checkpoints, console, staff = await live_guided_pair(server, api_token, browser)
    first = checkpoints[0]
    await console.keyboard.press("n")
    await expect(staff.get_by_test_id("staff-instruction")).to_contain_text(first["instruction"])

    # "Point here": a click on the picture shows a ring over the phone's preview.
    marker = staff.get_by_test_id("pointer-marker")
    await expect(marker).to_be_hidden()
    video = console.get_by_test_id("remote-video")
    box = await video.bounding_box()
    assert box is not None
    await video.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.5})
    # Where the ring is on the preview, read while it shows (it goes after 4 s).
    shown = await staff.wait_for_function(RING_ACROSS_PREVIEW, timeout=5_000)
    across = float(await shown.json_value())
    assert abs(across - 0.25) < 0.05, f"the ring is {across:.2f} of the way across the preview"

    # A photo request: the phone takes and uploads one, the console shows it bound to the checkpoint.
    await console.get_by_test_id("request-photo").click()
    await expect(console.get_by_test_id("photo-status")).to_contain_text("Photo requested")
    await staff.get_by_test_id("take-photo").click()
    await expect(staff.get_by_test_id("photo-state")).to_contain_text("Photo sent", timeout=15_000)
    photo = console.locator('[data-testid="evidence-item"][data-kind="photo"]')
    await expect(photo).to_have_count(1, timeout=10_000)
    await expect(photo).to_have_attribute("data-checkpoint", first["key"])
    await expect(photo.get_by_test_id("photo-badge")).to_have_text("Photo")
    await expect(console.get_by_test_id("photo-status")).not_to_contain_text("Photo requested")
    async with server.client(api_token) as http:
        r = await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "photo"})
    assert [item["checkpoint"] for item in r.json()["items"]] == [first["key"]]
