"""Opening the console and the phone page in the browser tests, and saying why when one of them
does not get as far as its recording notice: on a loaded machine that failed now and then
with nothing to go on. A `PageWatch` keeps what the page did meanwhile: requests that failed,
answered 400 or more, or are still waiting; its sockets and the message types they carried;
script errors and console errors."""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.async_api import Browser, ConsoleMessage, Page, Request, WebSocket, expect

from tests.support import PASSWORD, LiveServer

NOTICE_WITHIN_MS = 30_000  # as long as a connection is given elsewhere in the browser tests
PAGE_STATE = """() => ({
  document: document.readyState,
  script: typeof window.vaudit === 'object' ? window.vaudit.state ?? 'running' : 'not run',
  socketOpen: typeof window.vaudit === 'object' ? window.vaudit.socketOpen ?? null : null,
  dialogOpen: Boolean(document.getElementById('consent-dialog')?.open),
})"""


def _message_type(payload: str | bytes) -> str:
    try:
        return str(json.loads(payload).get("type", "?"))
    except (ValueError, AttributeError):
        return "?"


class PageWatch:
    """What a page did since it was opened, for a failure message."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.started = time.monotonic()
        self.events: list[str] = []
        self.waiting: dict[Request, float] = {}
        page.on("request", self._request)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: self._note(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("pageerror", lambda e: self._note(f"script error: {e}"))
        page.on("console", self._console)
        page.on("websocket", self._socket)

    def _note(self, what: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:6.2f} s {what}")

    def _request(self, request: Request) -> None:
        self.waiting[request] = time.monotonic()

    def _finished(self, request: Request) -> None:
        self.waiting.pop(request, None)

    def _failed(self, request: Request) -> None:
        self.waiting.pop(request, None)
        self._note(f"failed: {request.method} {request.url} ({request.failure})")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self._note(f"console {message.type}: {message.text[:300]}")

    def _socket(self, socket: WebSocket) -> None:
        self._note(f"socket opened: {socket.url}")
        socket.on("framesent", lambda p: self._note(f"socket sent {_message_type(p)}"))
        socket.on("framereceived", lambda p: self._note(f"socket received {_message_type(p)}"))
        socket.on("socketerror", lambda e: self._note(f"socket error: {e}"))
        socket.on("close", lambda _: self._note("socket closed"))

    async def report(self) -> str:
        now = time.monotonic()
        try:
            state = await self.page.evaluate(PAGE_STATE)
        except Exception as exc:  # a page whose main thread is stuck, or gone: say so
            state = f"no answer ({type(exc).__name__})"
        waiting = [f"{r.method} {r.url} for {now - at:.1f} s" for r, at in self.waiting.items()]
        lines = [
            f"the page: {state}",
            f"requests still waiting: {waiting or 'none'}",
            "what happened (seconds since it was opened):" if self.events else "nothing happened",
            *([*self.events[:30], "…", *self.events[-30:]] if len(self.events) > 60 else self.events),
        ]
        return "\n".join(lines)


async def accept_recording_notice(page: Page, watch: PageWatch, who: str) -> None:
    """Wait for the recording notice (it comes with the socket's `welcome`) and accept it."""
    notice = page.get_by_test_id("consent-accept")
    try:
        await expect(notice).to_be_visible(timeout=NOTICE_WITHIN_MS)
    except AssertionError as exc:
        raise AssertionError(f"the {who} showed no recording notice\n{await watch.report()}") from exc
    await notice.click()


async def sign_in(page: Page, server: LiveServer, next_path: str) -> None:
    await page.goto(f"{server.base_url}/login?next={next_path}")
    await page.get_by_test_id("login-email").fill("auditor@example.org")
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url(f"**{next_path}")


async def open_console(browser: Browser, server: LiveServer, audit_id: str) -> Page:
    """The auditor's console, signed in, after the recording notice was accepted."""
    context = await browser.new_context(viewport={"width": 1366, "height": 800})
    page = await context.new_page()
    watch = PageWatch(page)
    await sign_in(page, server, f"/audits/{audit_id}")
    await accept_recording_notice(page, watch, "console")
    return page


async def open_staff(browser: Browser, url: str, **context_options: Any) -> Page:
    """The facility's phone page from its invite link, after the recording notice was accepted."""
    options = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
    context = await browser.new_context(**(options | context_options))
    page = await context.new_page()
    watch = PageWatch(page)
    await page.goto(url)
    await accept_recording_notice(page, watch, "phone")
    return page
