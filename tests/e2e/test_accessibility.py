"""Every page through axe-core in real Chromium, at desktop and phone sizes: no serious or
critical violation; and every button and link of the phone page is at least 44 px tall and
wide enough to hit with a thumb.

axe-core comes from the ``axe-playwright-python`` wheel (test extra), which ships its
``axe.min.js``; nothing is fetched while the tests run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.base import AXE_FILE_PATH
from playwright.async_api import Browser, BrowserContext, Page, expect

from server.db import org_repo, repo
from server.policy import OrgKind
from tests.parties import Parties
from tests.support import COMPLETE_ANYWAY, PASSWORD, LiveServer, new_invite
from tests.test_certificates import accept, passed_audit, public_file

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
BLOCKING = ("serious", "critical")
# Besides axe's defaults: a button's name must contain its visible text (WCAG 2.5.3, an
# experimental rule in axe), and every page needs a main heading (moderate in axe, but
# a screen-reader user on a live page relies on it).
EXTRA_RULES = {"label-content-name-mismatch": {"enabled": True}}
ALWAYS_BLOCKING = ("page-has-heading-one",)
MIN_TARGET = 44
RUN_AXE = """async (rules) => {
  const results = await axe.run(document, {resultTypes: ['violations'], rules});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary})),
  }));
}"""
TARGETS = """() => [...document.querySelectorAll(
    'button, a[href], [role="button"], input:not([type="hidden"]), select')]
  .filter((el) => el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
  .map((el) => {
    const r = el.getBoundingClientRect();
    const what = el.dataset.testid || el.id || el.textContent.trim().slice(0, 30);
    return {what, width: r.width, height: r.height};
  })
  .filter((t) => t.width > 0 && t.height > 0)"""


@dataclass
class Seeded:
    auditor_token: str
    open_audit: str
    completed_audit: str
    invite_url: str


async def seed(server: LiveServer) -> Seeded:
    """An administrator, an auditor with an open audit (and an invite) and a completed one."""
    async with server.app_ctx().db.session() as s:
        await org_repo.create_org(s, OrgKind.ASSOCIATION, "Association")
        await repo.create_user(s, "admin@example.org", "Ada Admin", PASSWORD, "Association", "admin")
        auditor = await repo.create_user(s, "auditor@example.org", "Abe Auditor", PASSWORD)
        issued = await repo.issue_credential(s, auditor, "api", dt.timedelta(hours=1))
    async with server.client(issued.token) as http:
        ids = []
        for name in ("Haiphong Box Yard", "Da Nang Cartons"):
            body = {"facility": {"name": name, "country": "VN"}, "template": "container-7-point"}
            r = await http.post("/api/audits", json=body)
            assert r.status_code == 201, r.text
            ids.append(str(r.json()["id"]))
        invite = await new_invite(http, ids[0], label="Karim")
        r = await http.post(f"/api/audits/{ids[1]}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200, r.text
    return Seeded(issued.token, ids[0], ids[1], invite["url"])


@dataclass
class Certified:
    facility: str
    certificate: str


async def seed_certified(server: LiveServer) -> Certified:
    """A firm's passing audit accepted by its reviewer, and a member (member1@) to link it."""
    parties = Parties(server)
    people = {
        "lead": ("Firm A", "auditor"),
        "reviewer": ("Firm A", "reviewer"),
        "member1": ("Importer", "member"),
    }
    async with server.app_ctx().db.session() as s:
        await org_repo.create_org(s, OrgKind.AUDIT_FIRM, "Firm A")
        await org_repo.create_org(s, OrgKind.MEMBER, "Importer")
        for who, (org, role) in people.items():
            user = await repo.create_user(s, parties.email(who), who.title(), PASSWORD, org, role)
            parties.tokens[who] = (await repo.issue_credential(s, user, "api", dt.timedelta(hours=1))).token
    certificate = (await accept(parties, await passed_audit(parties)))["certificate"]["id"]
    facility = (await public_file(server, certificate))["certificate"]["facility"]["id"]
    return Certified(str(facility), str(certificate))


async def signed_in(
    browser: Browser, server: LiveServer, email: str, viewport: dict[str, int]
) -> BrowserContext:
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    await page.goto(f"{server.base_url}/login?next=/audits")
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url("**/audits")
    await page.close()
    return context


async def violations(page: Page) -> list[dict[str, Any]]:
    # evaluate, not a script tag: the pages' CSP rightly refuses inline scripts
    await page.evaluate(AXE_FILE_PATH.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = await page.evaluate(RUN_AXE, EXTRA_RULES)
    return [v for v in found if v["impact"] in BLOCKING or v["id"] in ALWAYS_BLOCKING]


def describe(page_name: str, found: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v in found:
        for node in v["nodes"][:5]:
            lines.append(
                f"{page_name}: {v['impact']} {v['id']} ({v['help']}) at {node['target']}: {node['summary']}"
            )
    return lines


async def phone_page(browser: Browser, url: str, viewport: dict[str, int]) -> Page:
    mobile = viewport["width"] < 600
    context = await browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
    page = await context.new_page()
    await page.goto(url)
    await expect(page.get_by_test_id("consent-accept")).to_be_enabled(timeout=10_000)
    return page


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_no_serious_accessibility_violations_on_any_page(
    server: LiveServer, browser: Browser, viewport: dict[str, int]
) -> None:
    seeded = await seed(server)
    certified = await seed_certified(server)
    auditor = await signed_in(browser, server, "auditor@example.org", viewport)
    admin = await signed_in(browser, server, "admin@example.org", viewport)
    member = await signed_in(browser, server, "member1@example.org", viewport)
    problems: list[str] = []

    async def check(name: str, page: Page) -> None:
        problems.extend(describe(name, await violations(page)))

    async def visit(context: BrowserContext, name: str, path: str, ready: str) -> Page:
        page = await context.new_page()
        await page.goto(server.base_url + path)
        await expect(page.get_by_test_id(ready).first).to_be_attached(timeout=10_000)
        await check(name, page)
        return page

    anonymous = await browser.new_context(viewport=viewport)
    await visit(anonymous, "login", "/login", "login-submit")
    await visit(auditor, "audits", "/audits", "account")
    console = await visit(auditor, "console consent", f"/audits/{seeded.open_audit}", "consent-accept")
    await console.get_by_test_id("consent-accept").click()
    await expect(console.get_by_test_id("consent-accept")).to_be_hidden()
    await expect(console.get_by_test_id("checkpoint").first).to_be_attached()
    await check("console", console)
    await visit(auditor, "report", f"/audits/{seeded.completed_audit}/report", "account")
    await visit(auditor, "replay", f"/audits/{seeded.completed_audit}/replay", "replay-video")
    await visit(auditor, "verify", "/verify", "account")
    await visit(admin, "admin", "/admin", "admin-create-org")
    await visit(member, "facilities", "/facilities", "facility-row")
    facility = await visit(member, "facility", f"/facilities/{certified.facility}", "supplier-toggle")
    await facility.get_by_test_id("supplier-toggle").click()
    await expect(facility.get_by_test_id("supplier-link-status")).to_be_visible()
    await check("facility linked", facility)
    await visit(member, "portfolio", "/portfolio", "supplier-row")
    await visit(member, "attestation", "/portfolio/attestation", "attested-supplier")
    await visit(anonymous, "certificate", f"/certificates/{certified.certificate}", "certificate-status")
    await visit(
        anonymous, "tech check", seeded.invite_url.removeprefix(server.base_url) + "/check", "techcheck-run"
    )
    await visit(anonymous, "broken phone link", "/join/not-a-real-invite-token", "link-problem")

    staff = await phone_page(browser, seeded.invite_url, viewport)
    await check("phone intro", staff)
    await staff.get_by_test_id("consent-accept").click()
    await expect(staff.get_by_test_id("local-video")).to_be_visible(timeout=10_000)
    await check("phone live", staff)

    assert not problems, "serious or critical accessibility violations:\n" + "\n".join(problems)


async def test_phone_page_targets_are_at_least_44_px(server: LiveServer, browser: Browser) -> None:
    seeded = await seed(server)
    staff = await phone_page(browser, seeded.invite_url, PHONE)
    too_small: list[str] = []

    async def measure(screen: str) -> None:
        for t in await staff.evaluate(TARGETS):
            if t["height"] < MIN_TARGET or t["width"] < MIN_TARGET:
                too_small.append(f"{screen}: {t['what']!r} is {t['width']:.0f}×{t['height']:.0f} px")

    await measure("intro")
    await staff.get_by_test_id("consent-accept").click()
    await expect(staff.get_by_test_id("local-video")).to_be_visible(timeout=10_000)
    await measure("live")
    techcheck = await staff.context.new_page()
    await techcheck.goto(seeded.invite_url + "/check")
    await expect(techcheck.get_by_test_id("techcheck-run")).to_be_attached()
    staff = techcheck
    await measure("tech check")
    assert not too_small, "phone targets under 44 px:\n" + "\n".join(too_small)
