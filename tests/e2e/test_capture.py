"""Evidence capture in real Chromium: the auditor presses Capture, the phone flashes, and the
picture on the console is byte for byte the one the server stored."""

from __future__ import annotations

import hashlib

import pytest
from playwright.async_api import Browser, Page, expect

from tests.page_watch import open_console, open_staff
from tests.support import LiveServer, new_audit, new_invite

pytestmark = pytest.mark.e2e

# Remembers whether the flash was ever shown: it only lasts about a second.
WATCH_FLASH = """() => {
  const flash = document.querySelector('[data-testid="captured-flash"]');
  window.flashSeen = flash.dataset.shown === 'true';
  new MutationObserver(() => {
    if (flash.dataset.shown === 'true') window.flashSeen = true;
  }).observe(flash, { attributes: true, attributeFilter: ['data-shown'] });
}"""


async def live_pair(server: LiveServer, api_token: str, browser: Browser) -> tuple[Page, Page]:
    """A console and a staff phone, both connected, the phone's video live on the console."""
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "Dhaka Knitwear")
        invite = await new_invite(http, audit_id, label="Karim")
    console = await open_console(browser, server, audit_id)
    staff = await open_staff(browser, invite["url"])
    await expect(staff.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "connected", timeout=20_000
    )
    await expect(console.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "connected", timeout=20_000
    )
    return console, staff


async def test_capture_shows_the_stored_picture_and_flashes_the_phone(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    console, staff = await live_pair(server, api_token, browser)
    await staff.evaluate(WATCH_FLASH)
    items = console.get_by_test_id("evidence-item")
    await expect(items).to_have_count(0)

    await console.get_by_test_id("capture").click()
    try:
        # The console gives up on an answer after 20 s; a loaded machine can take seconds.
        await expect(items).to_have_count(1, timeout=20_000)
    except AssertionError as exc:
        said = await console.locator("#capture-error-text").text_content()
        raise AssertionError(f"no capture on the console; it says {said!r}") from exc
    await staff.wait_for_function("() => window.flashSeen === true", timeout=5_000)

    item = items.first
    evidence_id = await item.get_attribute("data-id")
    shown_sha256 = await item.get_attribute("data-sha256")
    image_url = await item.locator("img").get_attribute("src")
    assert evidence_id and shown_sha256 and image_url
    assert await item.locator("img").get_attribute("loading") == "lazy"

    image = await console.request.get(server.base_url + image_url)
    assert image.ok and image.headers["content-type"] == "image/jpeg"
    body = await image.body()
    assert body[:2] == b"\xff\xd8"
    async with server.client(api_token) as http:
        r = await http.get(f"/api/evidence/{evidence_id}")
    assert r.status_code == 200, r.text
    stored = r.json()
    assert hashlib.sha256(body).hexdigest() == shown_sha256 == stored["sha256"]
    assert stored["kind"] == "capture"
    assert await item.locator("time").get_attribute("title") == stored["captured_at"]

    await item.locator("button").click()
    dialog = console.get_by_test_id("evidence-dialog")
    await expect(dialog).to_be_visible()
    await expect(console.get_by_test_id("evidence-dialog-sha256")).to_have_text(stored["sha256"])
    await console.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    # A second capture by keyboard lands in front, and a reload keeps both.
    await console.keyboard.press("c")
    await expect(items).to_have_count(2, timeout=10_000)
    await expect(items.first).not_to_have_attribute("data-id", evidence_id)
    await console.reload()
    await expect(items).to_have_count(2, timeout=10_000)
    await expect(items.last).to_have_attribute("data-id", evidence_id)


async def test_capture_waits_for_a_live_camera(server: LiveServer, api_token: str, browser: Browser) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
    console = await open_console(browser, server, audit_id)
    state = console.get_by_test_id("connection-state")
    await expect(state).to_contain_text("Waiting for the facility camera")
    await expect(console.get_by_test_id("capture")).to_be_disabled()
    await expect(console.get_by_text("No captures yet")).to_be_visible()

    await console.keyboard.press("c")
    await expect(console.get_by_test_id("capture-error")).to_contain_text("not live")
    await console.get_by_role("button", name="Dismiss").click()
    await expect(console.get_by_test_id("capture-error")).to_be_hidden()
