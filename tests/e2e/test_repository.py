"""The confidential repository in real Chromium: another firm cannot find an audit, and a
customs officer's replay shows up in the access log of the firm that ran it."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.async_api import Browser, expect

from server.db import org_repo, repo
from server.policy import OrgKind
from tests.e2e.test_admin import completed_audit, signed_in
from tests.support import PASSWORD, LiveServer

pytestmark = pytest.mark.e2e


async def seed(server: LiveServer) -> str:
    """Firm A (whose auditor's token is returned), Firm B, and the customs agency."""
    async with server.app_ctx().db.session() as s:
        await org_repo.create_org(s, OrgKind.AUDIT_FIRM, "Firm B")
        await org_repo.create_org(s, OrgKind.AGENCY, "Customs")
        auditor = await repo.create_user(
            s, "auditor@example.org", "Abe Auditor", PASSWORD, "Default audit firm", "auditor"
        )
        await repo.create_user(s, "bo@firm-b.example", "Bo of Firm B", PASSWORD, "Firm B", "auditor")
        await repo.create_user(s, "officer@customs.example", "Cy Officer", PASSWORD, "Customs", "agency")
        issued = await repo.issue_credential(s, auditor, "api", dt.timedelta(hours=1))
    return issued.token


async def test_other_firms_cannot_find_an_audit_and_agency_views_are_logged(
    server: LiveServer, browser: Browser
) -> None:
    audit_id = await completed_audit(server, await seed(server))

    other_firm = await signed_in(browser, server, "bo@firm-b.example", "/audits")
    await expect(other_firm.get_by_test_id("audit-row")).to_have_count(0)
    response = await other_firm.goto(f"{server.base_url}/audits/{audit_id}")
    assert response is not None and response.status == 404
    await expect(other_firm.get_by_role("heading", name="Audit not found")).to_be_visible()
    response = await other_firm.goto(f"{server.base_url}/audits/{audit_id}/replay")
    assert response is not None and response.status == 404

    officer = await signed_in(browser, server, "officer@customs.example", "/audits")
    await expect(officer.get_by_test_id("audit-row")).to_have_count(1)
    async with officer.expect_response(f"**/api/audits/{audit_id}/replay") as manifest:
        await officer.goto(f"{server.base_url}/audits/{audit_id}/replay")
    assert (await manifest.value).status == 200

    auditor = await signed_in(browser, server, "auditor@example.org", f"/audits/{audit_id}/report")
    row = auditor.get_by_test_id("access-log-row").filter(has_text="Cy Officer")
    await expect(row).to_contain_text("Customs")
    await expect(row).to_contain_text("watched the replay")
