"""The public certificate page in real Chromium, signed out: valid, then revoked by an admin."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.parties import make_parties
from tests.support import LiveServer
from tests.test_certificates import accept, passed_audit, revoke

pytestmark = pytest.mark.e2e


async def test_a_signed_out_visitor_sees_the_certificate_then_its_revocation(
    server: LiveServer, browser: Browser
) -> None:
    parties = await make_parties(server)
    cert_id = (await accept(parties, await passed_audit(parties)))["certificate"]["id"]
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.base_url}/certificates/{cert_id}")
    status = page.get_by_test_id("certificate-status")
    await expect(status).to_have_attribute("data-state", "valid")
    await expect(page.get_by_test_id("certificate-facility")).to_have_text("Plant One")
    await expect(page.get_by_test_id("certificate-qr").locator("svg")).to_be_visible()
    async with parties.client("admin") as http:
        assert (await revoke(http, cert_id)).status_code == 200
    await page.reload()
    await expect(status).to_have_attribute("data-state", "revoked")
    await expect(page.get_by_test_id("certificate-revocation")).to_contain_text("Seal fraud found")
    await context.close()
