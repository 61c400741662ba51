"""The phone in the facility's language: Vietnamese and Chinese phones, the switcher, and the
consent log naming the language and the hash of the notice the person was shown."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_guided import open_guided_console
from tests.support import COMPLETE_ANYWAY, LiveServer, new_audit, new_invite
from tests.test_i18n import PARTLY_TRANSLATED

pytestmark = pytest.mark.e2e

CATALOGUES = Path(__file__).resolve().parents[2] / "web" / "static" / "i18n"


def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))
    return data


async def open_phone(browser: Browser, url: str, locale: str) -> Page:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale=locale
    )
    page = await context.new_page()
    await page.goto(url)
    return page


async def expect_language(page: Page, lang: str) -> str:
    """The consent step is in ``lang``; returns the notice text the page shows."""
    texts = catalogue(lang)
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    notice = page.get_by_test_id("consent-notice")
    await expect(notice).to_have_text(texts["recordingNotice"], timeout=10_000)
    await expect(page.get_by_test_id("consent-accept")).to_have_text(texts["accept"])
    await expect(page.get_by_test_id("consent")).to_contain_text(texts["consentTitle"])
    await expect(page.get_by_test_id("language-switcher")).to_have_value(lang)
    return str(await notice.text_content())


async def accept(page: Page) -> None:
    await page.get_by_test_id("consent-accept").click()
    await expect(page.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "connected", timeout=20_000
    )


async def consents(server: LiveServer, api_token: str, audit_id: str) -> list[dict[str, Any]]:
    async with server.client(api_token) as http:
        r = await http.get(f"/api/audits/{audit_id}/consents")
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def test_vietnamese_phone(server: LiveServer, api_token: str, browser: Browser) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "Xưởng may Bình Dương")
        invite = await new_invite(http, audit_id, label="Chị Lan")
    phone = await open_phone(browser, invite["url"], "vi-VN")
    shown = await expect_language(phone, "vi")
    await accept(phone)
    vi = catalogue("vi")
    await expect(phone.get_by_test_id("connection-state")).to_have_text(vi["stateConnected"])

    [consent] = await consents(server, api_token, audit_id)
    assert consent["language"] == "vi"
    assert consent["notice_sha256"] == sha256(shown) == sha256(vi["recordingNotice"])

    async with server.client(api_token) as http:
        r = await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200, r.text
    await expect(phone.locator("#message-title")).to_have_text(vi["completedTitle"], timeout=10_000)
    await expect(phone.locator("#message-body")).to_have_text(vi["completedBody"])


async def test_chinese_phone_and_a_revoked_link(server: LiveServer, api_token: str, browser: Browser) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "东莞电子厂")
        invite = await new_invite(http, audit_id, label="王师傅")
    phone = await open_phone(browser, invite["url"], "zh-CN")
    shown = await expect_language(phone, "zh")
    await accept(phone)
    [consent] = await consents(server, api_token, audit_id)
    assert (consent["language"], consent["notice_sha256"]) == ("zh", sha256(shown))

    async with server.client(api_token) as http:
        await http.delete(f"/api/audits/{audit_id}/invites/{invite['id']}")
    zh = catalogue("zh")
    await expect(phone.locator("#message-title")).to_have_text(zh["revokedTitle"], timeout=10_000)
    await expect(phone.locator("#message-body")).to_have_text(zh["revokedBody"])

    gone = await phone.context.new_page()
    response = await gone.goto(invite["url"])
    assert response is not None and response.status == 410
    await expect(gone.locator("html")).to_have_attribute("lang", "zh")
    # The page says which problem it is: this link was withdrawn, in the phone's language.
    await expect(gone.get_by_test_id("link-problem")).to_have_attribute("data-code", "link_revoked")
    await expect(gone.get_by_text(zh["revokedBody"])).to_be_visible()


async def test_the_switcher_changes_the_page_and_the_consent(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    phone = await open_phone(browser, invite["url"], "en-US")
    await expect_language(phone, "en")

    await phone.get_by_test_id("language-switcher").select_option("vi")
    await expect_language(phone, "vi")
    await phone.reload()  # the choice is remembered on this phone
    await expect_language(phone, "vi")

    await phone.get_by_test_id("language-switcher").select_option("hi")
    shown = await expect_language(phone, "hi")
    await expect(phone.get_by_test_id("techcheck-link")).to_have_text(catalogue("hi")["techCheckLink"])
    await accept(phone)
    [consent] = await consents(server, api_token, audit_id)
    assert (consent["language"], consent["notice_sha256"]) == ("hi", sha256(shown))

    check = await phone.context.new_page()
    await check.goto(invite["url"] + "/check")
    await expect(check.locator("html")).to_have_attribute("lang", "hi")
    await expect(check.get_by_test_id("techcheck-run")).to_have_text(catalogue("hi")["tcRun"])
    await check.get_by_test_id("language-switcher").select_option("bn")
    await expect(check.get_by_test_id("techcheck-run")).to_have_text(catalogue("bn")["tcRun"])


async def test_console_shows_the_phone_language_and_english_fallbacks(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/templates", json={"yaml": PARTLY_TRANSLATED})
        assert r.status_code == 201, r.text
        r = await http.post(
            "/api/audits", json={"facility": {"name": "Long An", "country": "VN"}, "template": "partly"}
        )
        assert r.status_code == 201, r.text
        audit_id = str(r.json()["id"])
        invite = await new_invite(http, audit_id, label="Anh Minh")
    console = await open_guided_console(browser, server, audit_id)
    phone = await open_phone(browser, invite["url"], "vi-VN")
    await expect_language(phone, "vi")

    staff = console.locator('[data-testid="participant"][data-role="staff"]')
    await expect(staff).to_have_attribute("data-lang", "vi", timeout=10_000)
    await expect(staff).to_contain_text("phone in Vietnamese")
    await expect(console.get_by_test_id("phone-language")).to_contain_text("Vietnamese")
    fallback = console.get_by_test_id("checkpoint-fallback")
    await expect(fallback).to_have_count(1)
    await expect(console.locator('[data-testid="checkpoint"][data-key="fence"]')).to_contain_text("EN")
