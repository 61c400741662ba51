"""A rejoin whose `welcome` is slow: the phone must not send an offer before it.

The server reads a socket's messages in order, so an offer a phone sends on a new socket
while its join is still being handled is answered after the `welcome`. The `welcome` makes
the phone build a new peer connection with a new offer; had the early offer gone out, its
answer would reach that new connection (and each later answer the connection after it), and
video would never come back on that socket.

A proxy between the phone's page and the server (Playwright's WebSocket routing) holds
everything the server says from a `welcome` on (heartbeat messages pass), while the phone's
old peer connection fails; then it lets the held messages through, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

from playwright.async_api import Browser, ConsoleMessage, Page, WebSocketRoute, expect

from tests.e2e.test_network_recovery import FRAMES
from tests.page_watch import open_console
from tests.support import LiveServer, new_audit, new_invite

# After the old connection fails, PeerLink retries within its longest backoff (2 s): hold
# the welcome that much longer, so that an early offer would have gone out by then.
RETRY_MAX_S = 2.0
PASS_THROUGH = {"ping", "pong"}


def message_type(message: str | bytes) -> str:
    try:
        parsed = json.loads(message)
    except ValueError:
        return "?"
    return str(parsed.get("type", "?")) if isinstance(parsed, dict) else "?"


@dataclass
class SlowWelcomes:
    """Proxies every phone socket; while `holding`, a welcome and all after it wait."""

    holding: bool = False
    sockets: list[WebSocketRoute] = field(default_factory=list)
    # (socket number, what happened): "page offer", "welcome delivered", ...
    events: list[tuple[int, str]] = field(default_factory=list)
    queues: list[list[str | bytes]] = field(default_factory=list)  # held, per socket

    def route(self, page_side: WebSocketRoute) -> None:
        self.sockets.append(page_side)
        self.queues.append([])
        number = len(self.sockets)
        queue = self.queues[-1]
        server_side = page_side.connect_to_server()
        welcomed = False

        def from_page(message: str | bytes) -> None:
            self.events.append((number, f"page {message_type(message)}"))
            server_side.send(message)

        def from_server(message: str | bytes) -> None:
            nonlocal welcomed
            kind = message_type(message)
            welcomed = welcomed or kind == "welcome"
            if (queue or (self.holding and welcomed)) and kind not in PASS_THROUGH:
                queue.append(message)
            else:
                self.deliver(number, message)

        page_side.on_message(from_page)
        server_side.on_message(from_server)

    def deliver(self, number: int, message: str | bytes) -> None:
        if message_type(message) == "welcome":
            self.events.append((number, "welcome delivered"))
        with contextlib.suppress(Exception):  # the page has left this socket
            self.sockets[number - 1].send(message)

    def release(self) -> None:
        """Let every held message through, in order."""
        self.holding = False
        for number, queue in enumerate(self.queues, start=1):
            for message in queue:
                self.deliver(number, message)
            queue.clear()

    def offers_before_welcome(self) -> list[int]:
        """Sockets on which the page sent an offer before its welcome had reached it."""
        early: list[int] = []
        welcomed: set[int] = set()
        for number, what in self.events:
            if what == "welcome delivered":
                welcomed.add(number)
            elif what == "page offer" and number not in welcomed:
                early.append(number)
        return early


async def open_phone(browser: Browser, url: str, proxy: SlowWelcomes) -> Page:
    context = await browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    await page.route_web_socket("**/ws/audits/**", proxy.route)
    await page.goto(url)
    await page.get_by_test_id("consent-accept").click()
    return page


async def frames_beyond(console: Page, count: int, within_s: float, stage: str) -> None:
    start = int(await console.evaluate(FRAMES))
    deadline = time.monotonic() + within_s
    while (seen := int(await console.evaluate(FRAMES))) < start + count:
        assert time.monotonic() < deadline, f"{stage}: {seen - start} new frames in {within_s:.0f} s"
        await asyncio.sleep(0.1)


async def test_no_offer_before_a_slow_welcome(server: LiveServer, api_token: str, browser: Browser) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "Surabaya Shoe Works")
        invite = await new_invite(http, audit_id, label="Dewi")
    console = await open_console(browser, server, audit_id)
    proxy = SlowWelcomes()
    phone = await open_phone(browser, invite["url"], proxy)
    for page in (phone, console):
        await expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    await frames_beyond(console, 10, 20, "before the drop")

    failed = asyncio.Event()

    def noted(message: ConsoleMessage) -> None:
        if message.text.startswith("peer connection:"):
            failed.set()

    phone.on("console", noted)
    # The phone's socket drops (the server does not notice: its side stays open until the
    # phone's rejoin replaces it, which ends the old peer connection there).
    proxy.holding = True
    await proxy.sockets[0].close(code=4000, reason="network hiccup")
    try:
        await asyncio.wait_for(failed.wait(), 30)
    except TimeoutError:
        raise AssertionError(f"the phone's old connection never failed; sockets: {proxy.events}") from None
    # Negative window: an early offer, if the phone were to send one, goes out within this.
    await asyncio.sleep(RETRY_MAX_S + 0.5)
    assert proxy.offers_before_welcome() == [], f"offers before the welcome: {proxy.events}"
    proxy.release()

    await expect(phone.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    await frames_beyond(console, 10, 20, "after the slow welcome")
    assert proxy.offers_before_welcome() == [], f"offers before the welcome: {proxy.events}"
