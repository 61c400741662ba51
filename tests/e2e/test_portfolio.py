"""A member's portfolio in real Chromium: a certified facility is added to the member's
suppliers from its page, then shows in the portfolio, on the attestation and, from there,
on its public certificate page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_admin import signed_in
from tests.parties import make_parties
from tests.support import LiveServer
from tests.test_certificates import accept, passed_audit

pytestmark = pytest.mark.e2e

FACILITY = "Plant One"


async def open_facility(page: Page) -> None:
    await page.get_by_label("Name").fill(FACILITY)
    await page.get_by_role("button", name="Search").click()
    row = page.get_by_test_id("facility-row").filter(has_text=FACILITY)
    await row.get_by_role("link", name=FACILITY).click()
    await expect(page.get_by_test_id("facility-name")).to_have_text(FACILITY)


async def test_a_member_adds_a_certified_facility_and_attests_it(
    server: LiveServer, browser: Browser
) -> None:
    parties = await make_parties(server)
    certificate = (await accept(parties, await passed_audit(parties, FACILITY)))["certificate"]
    expires = str(certificate["expires"])[:10]
    page = await signed_in(browser, server, parties.email("member1"), "/facilities")
    await open_facility(page)

    toggle = page.get_by_test_id("supplier-toggle")
    await expect(toggle).to_have_text("Add to my suppliers")
    await toggle.click()
    await expect(page.get_by_test_id("supplier-link-status")).to_have_text("Added to your suppliers.")
    await expect(toggle).to_have_text("Remove from my suppliers")
    link_state = page.get_by_test_id("facility-link-state").filter(visible=True)
    await expect(link_state).to_contain_text("My suppliers")

    await page.get_by_test_id("nav-portfolio").click()
    row = page.get_by_test_id("supplier-row").filter(has_text=FACILITY)
    await expect(row).to_have_attribute("data-status", "valid")
    await expect(row.get_by_test_id("certificate-state")).to_have_attribute("data-state", "valid")
    await expect(row.get_by_test_id("certificate-state")).to_have_text("Valid")
    await expect(row).to_contain_text(expires)

    await page.get_by_test_id("attestation-link").click()
    attested = page.get_by_test_id("attested-supplier").filter(has_text=FACILITY)
    await expect(attested).to_have_attribute("data-certificate-id", certificate["id"])
    await expect(attested).to_contain_text(certificate["id"])
    public_url = (await attested.locator(".attestation-qr .mono").text_content() or "").strip()
    assert public_url.endswith(f"/certificates/{certificate['id']}"), public_url

    signed_out = await (await browser.new_context()).new_page()
    await signed_out.goto(public_url)
    await expect(signed_out.get_by_test_id("certificate-status")).to_have_attribute("data-state", "valid")
    await signed_out.context.close()
    await page.context.close()


async def test_a_member_removes_a_facility_from_its_suppliers(server: LiveServer, browser: Browser) -> None:
    parties = await make_parties(server)
    await accept(parties, await passed_audit(parties, FACILITY))
    page = await signed_in(browser, server, parties.email("member1"), "/facilities")
    await open_facility(page)
    toggle = page.get_by_test_id("supplier-toggle")
    await toggle.click()
    await expect(toggle).to_have_text("Remove from my suppliers")
    await toggle.click()
    await expect(page.get_by_test_id("supplier-link-status")).to_have_text("Removed from your suppliers.")
    await expect(toggle).to_have_text("Add to my suppliers")
    await page.reload()
    link_state = page.get_by_test_id("facility-link-state").filter(visible=True)
    await expect(link_state).to_contain_text("Not one of")
    await page.goto(f"{server.base_url}/portfolio")
    await expect(page.get_by_test_id("portfolio-empty")).to_be_visible()
    await page.context.close()
