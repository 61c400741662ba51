"""Phones behind firewalls: a Chromium phone forced to relay-only joins through a real coturn.

The server is started with ``--turn-url``, ``--turn-secret`` and ``--ice-transport-policy
relay``, so every page (the phone and the console) may use only candidates relayed by
coturn, which runs on loopback with the TURN REST API scheme (tests/coturn.py), over UDP
and over TLS (``turns:``, as on port 443 behind firewalls that pass only HTTPS).

For TURN over TLS Chromium checks the relay's certificate like a web site's: the test's
browser runs with a HOME whose NSS database (``~/.pki/nssdb``, made with ``certutil`` from
Debian's libnss3-tools) trusts the CA that signed coturn's certificate.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.browsers import chromium_args
from tests.coturn import Coturn, running_coturn
from tests.e2e.conftest import CHROMIUM
from tests.e2e.test_walkthrough import decoded_frames
from tests.page_watch import open_console, open_staff
from tests.support import LiveServer, live_server, new_audit, new_invite

pytestmark = pytest.mark.e2e

# The local candidate of the phone's selected candidate pair (the transport's, or failing
# that the nominated pair that succeeded), with the pair's state.
SELECTED_LOCAL = """async () => {
  const pc = window.vaudit.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((s) => {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
  });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    state: pair.state,
    localType: local && local.candidateType,
    relayProtocol: local && local.relayProtocol,
    remoteType: remote && remote.candidateType,
    sent: pair.bytesSent,
  };
}"""


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with running_coturn(tmp_path_factory.mktemp("coturn"), tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def trusting_home(tmp_path_factory: pytest.TempPathFactory, coturn: Coturn) -> Path:
    """A HOME whose NSS database trusts the CA of coturn's TLS certificate (and nothing else new)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail("certutil not found: install Debian's libnss3-tools (make test does)")
    assert coturn.ca_file is not None
    home = tmp_path_factory.mktemp("home")
    nssdb = f"sql:{home / '.pki' / 'nssdb'}"
    (home / ".pki" / "nssdb").mkdir(parents=True)
    for args in (
        ["-N", "--empty-password"],
        ["-A", "-t", "C,,", "-n", "virtual-audit test CA", "-i", str(coturn.ca_file)],
    ):
        done = subprocess.run([certutil, "-d", nssdb, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"certutil {' '.join(args)}: {done.stderr}"
    return home


@pytest.fixture
async def trusting_browser(camera_clip: Path, trusting_home: Path) -> AsyncIterator[Browser]:
    """Chromium (the test's usual flags) that trusts coturn's certificate through its HOME."""
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=chromium_args(camera_clip),
            env={**os.environ, "HOME": str(trusting_home)},
        )
        try:
            yield b
        finally:
            await b.close()


def relay_only(data: Path, coturn: Coturn, url: str) -> contextlib.AbstractAsyncContextManager[LiveServer]:
    """A server whose pages use only the relay at ``url`` (iceTransportPolicy "relay")."""
    return live_server(data, turn_urls=(url,), turn_secret=coturn.secret, ice_transport_policy="relay")


@pytest.fixture
async def relay_server(tmp_path: Path, coturn: Coturn) -> AsyncIterator[LiveServer]:
    async with relay_only(tmp_path / "data", coturn, coturn.udp_url) as live:
        yield live


@pytest.fixture
async def tls_relay_server(tmp_path: Path, coturn: Coturn) -> AsyncIterator[LiveServer]:
    async with relay_only(tmp_path / "data", coturn, coturn.tls_url) as live:
        yield live


@pytest.fixture
async def wrong_secret_server(tmp_path: Path, coturn: Coturn) -> AsyncIterator[LiveServer]:
    async with live_server(
        tmp_path / "data",
        turn_urls=(coturn.udp_url,),
        turn_secret="not-the-relays-secret",
        ice_transport_policy="relay",
    ) as live:
        yield live


async def until(
    page: Page, script: str, good: Callable[[Any], bool], stage: str, timeout_s: float = 15
) -> Any:
    """Evaluate ``script`` on ``page`` every 250 ms until ``good`` holds; fails naming ``stage``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await page.evaluate(script)
        if good(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{stage}: not within {timeout_s:.0f} s (last seen: {value})")
        await page.wait_for_timeout(250)


async def selected_pair(page: Page, who: str) -> dict[str, Any]:
    """The selected candidate pair once there is one that carries data."""
    pair: dict[str, Any] = await until(
        page,
        SELECTED_LOCAL,
        lambda p: bool(p and p["sent"]),
        f"{who}: a selected candidate pair carrying data",
    )
    return pair


async def relayed_pair(server: LiveServer, browser: Browser, facility: str) -> tuple[Page, Page]:
    """A console and a phone of a new audit, both connected (through the relay)."""
    token = await server.create_user()
    async with server.client(token) as http:
        audit_id = await new_audit(http, facility)
        invite = await new_invite(http, audit_id, label="Dewi")
    console = await open_console(browser, server, audit_id)
    staff = await open_staff(browser, invite["url"])
    for page, who in ((staff, "phone"), (console, "console")):
        try:
            await expect(page.get_by_test_id("connection-state")).to_have_attribute(
                "data-state", "connected", timeout=30_000
            )
        except AssertionError as exc:
            problem = await page.evaluate("() => window.vaudit && window.vaudit.relayProblem")
            raise AssertionError(
                f"{who} did not connect through the relay (relay problem: {problem})"
            ) from exc
    return console, staff


async def video_keeps_coming(console: Page) -> None:
    """The auditor decodes the phone's video, and it keeps coming."""
    first = await decoded_frames(console)
    await until(
        console, VIDEO_DECODED, lambda n: n > first["framesDecoded"] + 30, "console decoding 30 more frames"
    )
    later = await decoded_frames(console)
    assert later["framesDecoded"] > first["framesDecoded"] > 0
    assert later["width"] == 640


async def test_a_relay_only_phone_reaches_the_auditor_through_turn(
    relay_server: LiveServer, coturn: Coturn, browser: Browser
) -> None:
    console, staff = await relayed_pair(relay_server, browser, "Surabaya Containers")
    phone_pair = await selected_pair(staff, "phone")
    assert phone_pair["localType"] == "relay", f"phone's selected pair: {phone_pair}"
    assert phone_pair["relayProtocol"] == "udp", f"phone's selected pair: {phone_pair}"
    console_pair = await selected_pair(console, "console")
    assert console_pair["localType"] == "relay", f"console's selected pair: {console_pair}"
    await video_keeps_coming(console)

    # The phone's relay was allocated with its own short-lived credential: <expiry>:<participant id>.
    username = await staff.evaluate("() => window.vaudit.pc.getConfiguration().iceServers[0].username")
    expiry, _, subject = username.partition(":")
    assert int(expiry) > time.time() and subject, f"the phone's TURN username: {username}"
    assert f"user <{username}>: incoming packet ALLOCATE processed, success" in coturn.log(), (
        f"coturn logged no allocation for the phone's username {username}"
    )


VIDEO_DECODED = """async () => {
  const stats = await window.vaudit.pc.getStats();
  let n = 0;
  stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded || 0; });
  return n;
}"""


async def test_a_wrong_turn_secret_shows_the_phone_it_is_blocked(
    wrong_secret_server: LiveServer, browser: Browser
) -> None:
    server = wrong_secret_server
    token = await server.create_user()
    async with server.client(token) as http:
        audit_id = await new_audit(http, "Semarang Furniture")
        invite = await new_invite(http, audit_id)
    staff = await open_staff(browser, invite["url"])
    badge = staff.get_by_test_id("connection-state")
    try:
        await expect(badge).to_have_attribute("data-state", "failed", timeout=20_000)
    except AssertionError as exc:
        state = await badge.get_attribute("data-state")
        raise AssertionError(f"the phone did not show the relay problem; its state stayed {state!r}") from exc
    await expect(badge).to_contain_text("Blocked")
    banner = staff.get_by_test_id("live-banner")
    await expect(banner).to_have_attribute("data-problem", "relay")
    await expect(banner).to_contain_text("relay server refused")
    problem = await staff.evaluate("() => window.vaudit.relayProblem")
    assert problem["code"] == 401, f"the relay's answer as the phone saw it: {problem}"
    # Not a dead end: the page keeps trying (with fresh credentials on each rejoin) and stays blocked.
    assert await staff.evaluate("() => window.vaudit.state") == "failed"


async def test_a_relay_only_phone_reaches_the_auditor_through_turn_over_tls(
    tls_relay_server: LiveServer, coturn: Coturn, trusting_browser: Browser
) -> None:
    console, staff = await relayed_pair(tls_relay_server, trusting_browser, "Batam Electronics")
    servers = await staff.evaluate("() => window.vaudit.pc.getConfiguration().iceServers")
    urls = [url for server in servers for url in server["urls"]]
    assert urls == [coturn.tls_url], f"the phone's ICE servers: {servers}"
    phone_pair = await selected_pair(staff, "phone")
    assert phone_pair["localType"] == "relay", f"phone's selected pair: {phone_pair}"
    assert phone_pair["relayProtocol"] == "tls", f"phone's selected pair: {phone_pair}"
    console_pair = await selected_pair(console, "console")
    assert (console_pair["localType"], console_pair["relayProtocol"]) == ("relay", "tls"), console_pair
    await video_keeps_coming(console)
