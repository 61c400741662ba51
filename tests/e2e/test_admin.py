"""Organisations and sharing in real Chromium: an administrator creates a member organisation
and its user on /admin, a firm auditor shares a completed audit with it from the report
page, the member finds it in their audit list, and signing them out everywhere ends their
session."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.async_api import Browser, Page, expect

from server.db import org_repo, repo
from server.policy import OrgKind
from tests.support import COMPLETE_ANYWAY, PASSWORD, LiveServer

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"
MEMBER = "buyer@importer.example"
MEMBER_ORG = "Importer One"
FACILITY = {"name": "Haiphong Box Yard", "country": "VN"}


async def seed(server: LiveServer) -> str:
    """The association with its administrator, and a firm auditor's API token."""
    async with server.app_ctx().db.session() as s:
        await org_repo.create_org(s, OrgKind.ASSOCIATION, "Association")
        await repo.create_user(s, ADMIN, "Ada Admin", PASSWORD, "Association", "admin")
        auditor = await repo.create_user(s, "auditor@example.org", "Abe Auditor", PASSWORD)
        issued = await repo.issue_credential(s, auditor, "api", dt.timedelta(hours=1))
    return issued.token


async def completed_audit(server: LiveServer, token: str) -> str:
    async with server.client(token) as http:
        r = await http.post(
            "/api/audits",
            json={"facility": FACILITY, "template": "container-7-point"},
        )
        assert r.status_code == 201, r.text
        audit_id = str(r.json()["id"])
        r = await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200, r.text
    return audit_id


async def signed_in(browser: Browser, server: LiveServer, email: str, next_path: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{server.base_url}/login?next={next_path}")
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url(f"**{next_path}")
    return page


async def create_member_on_admin_page(admin: Page) -> None:
    org_form = admin.get_by_test_id("admin-create-org")
    await org_form.get_by_label("Kind").select_option("member")
    await org_form.get_by_label("Name").fill(MEMBER_ORG)
    await org_form.get_by_role("button", name="Create organisation").click()
    org_row = admin.get_by_test_id("admin-org-row").filter(has_text=MEMBER_ORG)
    await expect(org_row).to_contain_text("Member")

    user_form = admin.get_by_test_id("admin-create-user")
    # The new organisation is chosen for its first user, and only its role is offered.
    await expect(user_form.get_by_label("Organisation")).to_have_value(
        str(await org_row.get_attribute("data-org-id"))
    )
    await expect(user_form.get_by_label("Role")).to_have_value("member")
    await user_form.get_by_label("Name").fill("Bea Buyer")
    await user_form.get_by_label("Email").fill(MEMBER)
    await user_form.get_by_label("Initial password").fill("short")
    await user_form.get_by_role("button", name="Create user").click()
    await expect(admin.get_by_test_id("admin-create-user-error")).to_contain_text("8")
    await user_form.get_by_label("Initial password").fill(PASSWORD)
    await user_form.get_by_role("button", name="Create user").click()
    user_row = admin.get_by_test_id("admin-user-row").filter(has_text=MEMBER)
    await expect(user_row).to_contain_text(MEMBER_ORG)
    await expect(admin.get_by_test_id("admin-create-user-error")).to_be_hidden()
    await expect(org_row.locator("td").last).to_have_text("1")


async def test_admin_creates_a_member_who_then_sees_a_shared_audit(
    server: LiveServer, browser: Browser
) -> None:
    token = await seed(server)
    audit_id = await completed_audit(server, token)

    admin = await signed_in(browser, server, ADMIN, "/admin")
    await expect(admin.get_by_test_id("nav-admin")).to_be_visible()
    await expect(admin.get_by_test_id("account")).to_contain_text("Association · Administrator")
    await create_member_on_admin_page(admin)

    auditor = await signed_in(browser, server, "auditor@example.org", f"/audits/{audit_id}/report")
    await expect(auditor.get_by_test_id("nav-admin")).to_have_count(0)
    await expect(auditor.get_by_test_id("share-empty")).to_be_visible()
    await auditor.get_by_test_id("share-org").select_option(label=MEMBER_ORG)
    await auditor.get_by_test_id("share-submit").click()
    await expect(auditor.get_by_test_id("share-item")).to_contain_text(MEMBER_ORG)
    log_row = auditor.get_by_test_id("access-log-row").filter(has_text=f"shared with {MEMBER_ORG}")
    await expect(log_row).to_contain_text("Abe Auditor")

    member = await signed_in(browser, server, MEMBER, "/audits")
    row = member.get_by_test_id("audit-row")
    await expect(row).to_have_count(1)
    await expect(row.get_by_role("link", name="Haiphong Box Yard")).to_have_attribute(
        "href", f"/audits/{audit_id}/report"
    )
    assert (await member.goto(f"{server.base_url}/admin") or pytest.fail("no response")).status == 403

    # Signed out everywhere: the member's session no longer opens pages.
    user_row = admin.get_by_test_id("admin-user-row").filter(has_text=MEMBER)
    await user_row.get_by_test_id("admin-revoke-tokens").click()
    status = admin.get_by_test_id("admin-revoke-status")
    await expect(status).to_contain_text("Bea Buyer is signed out everywhere")
    await member.goto(f"{server.base_url}/audits")
    await expect(member).to_have_url(f"{server.base_url}/login?next=/audits")
