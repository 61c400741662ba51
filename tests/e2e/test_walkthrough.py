"""A staff phone and an auditor console in real Chromium, through the real server."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.page_watch import open_console, open_staff
from tests.support import LiveServer, new_audit, new_invite

pytestmark = pytest.mark.e2e

VIDEO_STATS = """async () => {
  const stats = await window.vaudit.pc.getStats();
  let out = null;
  stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') out = s; });
  return out && {framesDecoded: out.framesDecoded, width: out.frameWidth, codec: out.codecId};
}"""


async def decoded_frames(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] | None = await page.evaluate(VIDEO_STATS)
    assert stats is not None, "no inbound video stream on the console"
    return stats


async def test_auditor_sees_the_staff_camera(server: LiveServer, api_token: str, browser: Browser) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "Chittagong Apparel")
        invite = await new_invite(http, audit_id, label="Rahim")
    console = await open_console(browser, server, audit_id)
    state = console.get_by_test_id("connection-state")
    await expect(state).to_have_attribute("data-state", "connecting", timeout=10_000)

    staff = await open_staff(browser, invite["url"])
    await expect(staff.get_by_test_id("local-video")).to_be_visible()
    await expect(staff.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "connected", timeout=20_000
    )
    await expect(state).to_have_attribute("data-state", "connected", timeout=20_000)

    first = await decoded_frames(console)
    await console.wait_for_timeout(1500)
    later = await decoded_frames(console)
    assert later["framesDecoded"] > first["framesDecoded"] > 0
    assert later["width"] == 640
    participants = console.get_by_test_id("participant")
    await expect(participants).to_have_count(2)
    await expect(console.locator('[data-testid="participant"][data-role="staff"]')).to_contain_text("Rahim")


async def test_staff_sees_a_clear_message_for_a_revoked_invite(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
        await http.delete(f"/api/audits/{audit_id}/invites/{invite['id']}")
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    page = await context.new_page()
    response = await page.goto(invite["url"])
    assert response is not None and response.status == 410
    await expect(page.get_by_test_id("link-problem")).to_have_attribute("data-code", "link_revoked")
    await expect(page.get_by_text("withdrew this invite link")).to_be_visible()


async def test_console_creates_an_invite_with_a_qr_code(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
    console = await open_console(browser, server, audit_id)
    await console.get_by_test_id("create-invite").click()
    await expect(console.get_by_test_id("invite-qr").locator("svg")).to_be_visible()
    link = await console.get_by_test_id("invite-link").text_content()
    assert link is not None and f"{server.base_url}/join/" in link


async def test_console_warns_that_loopback_invite_links_cannot_reach_a_phone(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
    console = await open_console(browser, server, audit_id)
    warning = console.get_by_test_id("invite-loopback-warning")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("virtual-audit serve --host 0.0.0.0 --tls")
