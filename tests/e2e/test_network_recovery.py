"""A phone on a real, failing network: Chromium in its own network namespace (tests/netbed.py),
the auditor's Chromium in the root namespace, the server between them.

One session goes through three 10 s drops (the phone's interface, then the far end, then the
phone's again) and a 60 s drop (the far end); after each, live video must be decoded at the
auditor again within 5 s of the link returning (the median of the five recoveries; a single
one may take up to 8 s on a loaded test machine), and keep flowing. The phone must notice each
drop by itself (its heartbeat) and say it is reconnecting; the console shows the facility's
link apart from its own, and both say how long the connection was lost. Then the phone
switches to another network (a new address, the old one gone at once): nothing tells the
page, yet video must be back at the auditor within 5 s of the new address being up: the
phone sees nothing arrive on its peer connection (the server's reports and keepalives stop)
and rejoins at once from the new address rather than wait for its heartbeat.
On failure the message names the stage and lists what the phone did since the drop.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Page, WebSocket, async_playwright, expect

from tests.netbed import NetBed, launch_chromium, needs_root, netbed
from tests.page_watch import open_console, open_staff
from tests.support import LiveServer, live_server, new_audit, new_invite

pytestmark = [pytest.mark.e2e, pytest.mark.slow, needs_root]

RESUME_WITHIN_S = 5.0  # the bound: video back at the auditor after the link returns
# This test shares 2 cores with two other test processes and their browsers: one recovery of
# the five may take longer than 5 s there (Chromium's own scheduling, not the product's
# timers), so each is held to this, and their median to the 5 s. bench/network.py
# measures the 5 s bound on a machine doing nothing else (docs/benchmarks.md).
OUTLIER_WITHIN_S = 8.0
NOTICE_WITHIN_S = 10.0  # a dead signaling socket is noticed within 10 s on either side
# After a switch the same bound holds from the new address being up; the waits give up later
# so that a failure says how long each stage took.
SWITCH_GIVE_UP_S = NOTICE_WITHIN_S + RESUME_WITHIN_S

# Frames decoded by the console, over every inbound video stream of its connection.
FRAMES = """async () => {
  const pc = window.vaudit.pc;
  if (!pc) return -1;
  let n = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0;
  });
  return n;
}"""


# The messages a failure's trail lists (docs/protocol.md).
SIGNALING_STEPS = {"join", "welcome", "error", "offer", "answer", "access-ended"}

# What the phone shows, for a failure message.
PHONE_STATE = """() => ({
  state: window.vaudit.state, socketOpen: window.vaudit.socketOpen,
  pc: window.vaudit.pc ? window.vaudit.pc.connectionState : null,
  screen: document.querySelector('.screen:not([hidden])')?.id ?? null,
  message: document.querySelector('#message-title')?.textContent ?? '',
})"""


@dataclass
class Session:
    bed: NetBed
    server: LiveServer
    console: Page
    phone: Page
    audit_id: str
    token: str
    events: list[str]  # the phone's console and socket events, for failure messages

    def trail(self, since: float) -> str:
        """What the phone did since ``since`` (time.monotonic()), for a failure message."""
        lines = [e for e in self.events if float(e.split(" ", 1)[0]) >= since - 1]
        return "\n".join(lines[-40:])


def watch_phone(phone: Page, events: list[str]) -> None:
    """Keep the phone page's console lines and socket events (bounded) with their times."""

    def note(text: str) -> None:
        events.append(f"{time.monotonic():.2f} {text[:160]}")
        del events[:-400]

    phone.on("console", lambda m: note(f"console: {m.text}"))

    def socket(ws: WebSocket) -> None:
        note("socket created")
        ws.on("close", lambda _: note("socket closed"))
        ws.on("socketerror", lambda e: note(f"socket error: {e}"))
        ws.on("framesent", lambda payload: frame("sent", payload))
        ws.on("framereceived", lambda payload: frame("received", payload))

    def frame(direction: str, payload: str | bytes) -> None:
        # The signaling steps only (never their contents: a join carries the invite token).
        kind = re.search(r'"type":\s*"([a-z-]+)"', payload if isinstance(payload, str) else "")
        if kind and kind.group(1) in SIGNALING_STEPS:
            code = re.search(r'"code":\s*"([a-z_]+)"', payload) if isinstance(payload, str) else None
            note(f"{direction} {kind.group(1)}" + (f" ({code.group(1)})" if code else ""))

    phone.on("websocket", socket)


@pytest.fixture
async def session(tmp_path: Path, camera_clip: Path) -> AsyncIterator[Session]:
    with netbed() as bed:
        async with live_server(tmp_path / "data", host=bed.server_host) as server:
            token = await server.create_user()
            origin = server.base_url
            async with async_playwright() as p:
                auditor_browser = await launch_chromium(p, camera_clip, origin)
                phone_browser = await launch_chromium(p, camera_clip, origin, bed, tmp_path)
                try:
                    async with server.client(token) as http:
                        audit_id = await new_audit(http, "Chattogram Container Yard")
                        invite = await new_invite(http, audit_id, label="Karim")
                    console = await open_console(auditor_browser, server, audit_id)
                    phone = await open_staff(phone_browser, invite["url"])
                    events: list[str] = []
                    watch_phone(phone, events)
                    for page in (phone, console):
                        await expect(page.get_by_test_id("connection-state")).to_have_attribute(
                            "data-state", "connected", timeout=30_000
                        )
                    yield Session(bed, server, console, phone, audit_id, token, events)
                finally:
                    await phone_browser.close()
                    await auditor_browser.close()


async def frames(console: Page) -> int:
    return int(await console.evaluate(FRAMES))


async def wait_frames(console: Page, more_than: int, count: int, within_s: float, stage: str) -> float:
    """Wait until the console has decoded ``count`` frames beyond ``more_than``; seconds taken."""
    start = time.monotonic()
    seen = await frames(console)
    while seen < more_than + count:
        waited = time.monotonic() - start
        if waited > within_s:
            raise AssertionError(
                f"stage: {stage}: {seen - more_than} new frames at the auditor after {waited:.1f} s "
                f"(wanted {count} within {within_s:.0f} s)"
            )
        await asyncio.sleep(0.05)
        seen = await frames(console)
    return time.monotonic() - start


async def phone_notices(phone: Page, within_s: float, stage: str) -> float:
    """Seconds until the phone shows `reconnecting` with its signaling socket given up."""
    start = time.monotonic()
    try:
        await phone.wait_for_function(
            "() => window.vaudit.state === 'reconnecting' && window.vaudit.socketOpen === false",
            timeout=within_s * 1000,
            polling=100,
        )
    except Exception as exc:
        state = await phone.evaluate("() => [window.vaudit.state, window.vaudit.socketOpen]")
        raise AssertionError(
            f"stage: {stage}: the phone did not notice the drop (state, socket open: {state})"
        ) from exc
    return time.monotonic() - start


# Keeps every text the phone's banner shows from now on (window.bannersShown).
RECORD_BANNERS = """() => {
  const watching = Array.isArray(window.bannersShown);
  window.bannersShown = [];
  if (watching) return;
  const banner = document.getElementById('live-banner');
  new MutationObserver(() => window.bannersShown.push(banner.textContent))
    .observe(banner, { childList: true, characterData: true, subtree: true });
}"""


def told_seconds(text: str) -> int:
    """The length in "Connection lost for 12 s" or "... for 1 min", in seconds."""
    m = re.search(r"lost for (\d+) (s|min)", text)
    assert m, f"no gap length in {text!r}"
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


async def drop(s: Session, name: str, seconds: float, side: str) -> float:
    """Take the phone's link down for ``seconds``; seconds from its return to live video."""
    before = await frames(s.console)
    await wait_frames(s.console, before, 10, 10, f"{name}: video before the drop")
    dropped_at = time.monotonic()
    s.bed.link_down(side=side)
    await phone_notices(s.phone, NOTICE_WITHIN_S, f"{name}: phone noticing")
    # The auditor sees the facility's link go, apart from its own (which stays connected).
    facility = s.console.get_by_test_id("facility-link")
    await expect(facility).to_have_attribute("data-state", "reconnecting", timeout=5_000)
    await expect(facility).to_contain_text(" s")
    own = s.console.get_by_test_id("connection-state")
    await expect(own).to_contain_text("Waiting for the facility camera")  # its own link is fine
    await asyncio.sleep(max(0.0, dropped_at + seconds - 1 - time.monotonic()))
    if seconds > 30:  # gone for more than 30 s: offline, and for how long
        await expect(facility).to_have_attribute("data-state", "offline")
        shown = await facility.text_content() or ""
        gone = re.search(r"· (\d+) s", shown)
        assert gone and int(gone.group(1)) >= 30, f"stage: {name}: the console says {shown.strip()!r}"
    frozen = await frames(s.console)
    await asyncio.sleep(max(0.0, dropped_at + seconds - time.monotonic()))
    stalled = await frames(s.console)
    assert stalled - frozen <= 2, f"stage: {name}: video kept coming during the drop (+{stalled - frozen})"
    await s.phone.evaluate(RECORD_BANNERS)  # the phone's banner is shown for a few seconds only
    s.bed.link_up()
    up_at = time.monotonic()
    try:
        back = await wait_frames(s.console, stalled, 3, OUTLIER_WITHIN_S, f"{name}: video resuming")
    except AssertionError as exc:
        trail = s.trail(dropped_at)
        try:  # a page whose main thread is stuck does not answer: say so rather than hang
            shows = await asyncio.wait_for(s.phone.evaluate(PHONE_STATE), 5)
        except TimeoutError:
            shows = "no answer within 5 s (its main thread is busy)"
        raise AssertionError(
            f"{exc}\nthe phone now: {shows}\nthe phone since the drop (link up at {up_at:.2f}):\n{trail}"
        ) from exc
    await expect(s.phone.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "connected", timeout=10_000
    )
    # Both sides are told how long it lasted (at least the drop itself).
    await expect(facility).to_have_attribute("data-state", "live", timeout=5_000)
    told = await s.console.wait_for_function(
        "() => { const t = document.getElementById('notice').textContent;"
        " return t.includes('lost for') && t; }",
        timeout=5_000,
    )
    gap = told_seconds(str(await told.json_value()))
    assert gap >= seconds - 1, f"stage: {name}: the console says the gap lasted {gap} s"
    await s.phone.wait_for_function(
        "() => window.bannersShown.some((text) => text.includes('Connection lost for'))", timeout=5_000
    )
    # ... and it keeps flowing, not a burst of a few frames.
    resumed = await frames(s.console)
    await wait_frames(s.console, resumed, 30, 10, f"{name}: video flowing after the return")
    return back


@dataclass(frozen=True)
class Switch:
    at: float  # time.monotonic() when the new address was up and the old one gone
    noticed: float  # seconds from then until the phone gave its socket up (or -1: not seen)
    connected: float  # ... until its new peer connection was connected
    seconds: float  # ... until the auditor had decoded 3 new frames
    frames: int  # the auditor's decoded frames then

    def line(self) -> str:
        return (
            f"socket given up after {self.noticed:.1f} s, new connection after {self.connected:.1f} s, "
            f"3 new frames at the auditor after {self.seconds:.2f} s"
        )


# Watches, in the phone's page, for its socket being given up and a new peer connection
# being connected (window.switchWatch; times from performance.now()).
WATCH_SWITCH = """() => {
  const v = window.vaudit;
  const w = { oldPc: v.pc, opens: v.socketOpens, at: performance.now(), noticed: -1, connected: -1 };
  window.switchWatch = w;
  const check = () => {
    if (window.switchWatch !== w) return;
    const now = performance.now();
    if (w.noticed < 0 && (!v.socketOpen || v.socketOpens > w.opens)) w.noticed = now;
    if (v.pc && v.pc !== w.oldPc && v.pc.connectionState === 'connected') w.connected = now;
    else setTimeout(check, 20);
  };
  check();
}"""


async def switch_network(bed: NetBed, phone: Page, console: Page, within_s: float, stage: str) -> Switch:
    """Move the phone to a new network; how long until video from it reached the auditor."""
    await phone.evaluate(WATCH_SWITCH)
    bed.change_address()
    at = time.monotonic()
    await phone.evaluate("() => { window.switchWatch.at = performance.now(); }")
    try:
        await phone.wait_for_function(
            "() => window.switchWatch.connected >= 0", timeout=within_s * 1000, polling=50
        )
    except Exception as exc:
        noticed = await phone.evaluate("() => window.switchWatch.noticed - window.switchWatch.at")
        raise AssertionError(
            f"stage: {stage}: no new connection from the new address within {within_s:.0f} s "
            f"(socket given up after {noticed / 1000:.1f} s)"
        ) from exc
    connected = time.monotonic() - at
    before = await frames(console)
    await wait_frames(
        console, before, 3, max(1.0, within_s - connected), f"{stage}: video from the new address"
    )
    seconds = time.monotonic() - at
    w = await phone.evaluate(
        "() => [window.switchWatch.noticed - window.switchWatch.at, window.switchWatch.noticed]"
    )
    noticed = w[0] / 1000 if w[1] >= 0 else -1.0
    return Switch(at, noticed, connected, seconds, await frames(console))


async def test_live_video_returns_within_5_s_after_every_drop(session: Session) -> None:
    s = session
    timings: dict[str, float] = {}
    timings["drop 1 (10 s, phone side)"] = await drop(s, "drop 1 (10 s, phone side)", 10, "phone")
    timings["drop 2 (10 s, far side)"] = await drop(s, "drop 2 (10 s, far side)", 10, "server")
    timings["drop 3 (10 s, phone side)"] = await drop(s, "drop 3 (10 s, phone side)", 10, "phone")
    timings["drop 4 (60 s, far side)"] = await drop(s, "drop 4 (60 s, far side)", 60, "server")

    # A new network: the old address is gone at once and the new one is there. Nothing tells
    # the page (no event fires): it notices that nothing arrives on its peer connection any
    # more, and comes back from the new address with a new socket and a new peer connection.
    switched = await switch_network(s.bed, s.phone, s.console, SWITCH_GIVE_UP_S, "network switch")
    timings["network switch (from the new address)"] = switched.seconds
    print("network switch:", switched.line())
    if switched.seconds > OUTLIER_WITHIN_S:
        raise AssertionError(
            f"stage: network switch: {switched.line()}, wanted video within {OUTLIER_WITHIN_S:.0f} s"
            f"\nthe phone since the switch:\n{s.trail(switched.at)}"
        )
    await wait_frames(s.console, switched.frames, 30, 10, "network switch: video flowing")
    # One phone in the room, no ghost of the old address (polled: on a loaded machine the
    # phone may be between two sockets at the moment of a single look).
    deadline = time.monotonic() + 10
    async with s.server.client(s.token) as http:
        while True:
            live = (await http.get(f"/api/audits/{s.audit_id}")).json()["live"]["participants"]
            staff = [p for p in live if p["role"] == "staff"]
            if len(staff) == 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert len(staff) == 1, f"stage: network switch: the phone is in the room {len(staff)} times: {staff}"
    print("recovery after link return:", {k: round(v, 2) for k, v in timings.items()})
    median = statistics.median(timings.values())
    assert median <= RESUME_WITHIN_S, f"video returned in a median {median:.2f} s: {timings}"
