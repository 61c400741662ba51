"""The console's notice line (`noticeLine` in web/static/js/dom.js) under Chromium's timers,
driven by Playwright's clock: a timed notice goes when its time is up, and an earlier
notice's timer never clears a later one, even one that reads the same."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from tests.support import LiveServer

pytestmark = pytest.mark.e2e

TEXT = "Connection lost for 11 s: the facility's video is back. The recording shows the gap."
SETUP = """async () => {
  const { noticeLine } = await import('/static/js/dom.js');
  const node = document.createElement('p');
  node.id = 'line';
  document.body.append(node);
  window.show = noticeLine(node);
}"""
LINE = "() => { const n = document.getElementById('line'); return n.hidden ? null : n.textContent; }"


async def line_page(server: LiveServer, browser: Browser) -> Page:
    page = await browser.new_page()
    await page.clock.install()
    await page.goto(f"{server.base_url}/login")
    await page.evaluate(SETUP)
    return page


async def test_a_second_notice_reading_the_same_keeps_its_own_time(
    server: LiveServer, browser: Browser
) -> None:
    page = await line_page(server, browser)
    try:
        await page.evaluate("(text) => window.show(text, { forMs: 20000 })", TEXT)
        await page.clock.run_for(15_000)
        # A second gap of the same length, 15 s after the first.
        await page.evaluate("(text) => window.show(text, { forMs: 20000 })", TEXT)
        await page.clock.run_for(10_000)  # the first one's 20 s are up, not the second's
        assert await page.evaluate(LINE) == TEXT, "the first notice's timer cleared the second"
        await page.clock.run_for(11_000)
        assert await page.evaluate(LINE) is None, "the second notice stayed past its 20 s"
    finally:
        await page.close()


async def test_an_untimed_notice_stays_and_an_empty_one_hides_the_line(
    server: LiveServer, browser: Browser
) -> None:
    page = await line_page(server, browser)
    try:
        await page.evaluate("(text) => window.show(text, { forMs: 5000 })", "first")
        await page.evaluate("() => window.show('no microphone')")
        await page.clock.run_for(60_000)
        assert await page.evaluate(LINE) == "no microphone", "a timed notice's timer cleared an untimed one"
        await page.evaluate("() => window.show('')")
        assert await page.evaluate(LINE) is None
    finally:
        await page.close()
