"""A real network for browser tests: the phone in its own network namespace, joined by veth.

Needs root (``ip netns``, ``ip link``, ``tc``); tests that use it are skipped otherwise
(:data:`needs_root`). Everything is named after this process's id, so parallel runs do not
collide, and whatever a killed run left behind is removed by the next one.

Layout (N: a free third octet, chosen per bed; T: "<pid>-<index of the bed in this process>")::

    root namespace                             namespace vanet-T ("the phone")
    lo:      10.213.N.1/32  (server_host)
    vnTr0:   10.214.N.1/30  <--- veth --->  vnTp0: 10.214.N.2/30  default via .1
    vnTr1:   10.214.N.5/30  <--- veth --->  vnTp1: 10.214.N.6/30  (after change_address)

The server under test listens on :attr:`NetBed.server_host`, an address of its own that
neither link fault touches, reachable from the root namespace (the auditor's browser) and,
through the current veth pair, from the phone. The phone's traffic to it is local delivery
in the root namespace, so no forwarding or NAT is involved. A blackhole route for
10.214.N.0/24 in the root namespace keeps the server's packets for a phone address that is
down or gone (after a drop or a switch) on this machine, silently dropped as on a real
network, instead of following the default route out.

API (all methods are quick synchronous ``ip``/``tc`` calls, a few milliseconds each)::

    with netbed() as bed:                      # or the ``bed`` pytest fixture
        bed.server_host                        # listen here: Settings(host=bed.server_host)
        bed.phone_address                      # the phone's current address
        bed.link_down(); bed.link_up()         # a drop: the phone's side of the link (side="phone")
        bed.link_down(side="server")           # ... or the root side: the phone's interface stays up
        bed.shape(256); bed.unshape()          # tbf on the phone's egress: a thin uplink, kbit/s
        bed.change_address()                   # the phone moves to a new veth pair and address
        bed.chromium_executable(tmp_dir)       # a wrapper: Chromium inside the phone's namespace
        bed.chromium_args(origin)              # flags for http pages on origin to be a secure context
        bed.run("curl", ...)                   # any command inside the phone's namespace
    await launch_chromium(playwright, clip, origin, bed, tmp_dir)   # the phone's browser
    await launch_chromium(playwright, clip, origin)                  # the auditor's (root namespace)
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Playwright

from tests.browsers import chromium_args

PREFIX = "vanet-"
SERVER_NET = "10.213"
LINK_NET = "10.214"
CHROMIUM = os.environ.get("VAUDIT_CHROMIUM", "/usr/bin/chromium")


def missing_reason() -> str | None:
    """Why this machine cannot run netbed tests, or None."""
    if os.geteuid() != 0:
        return "network-namespace tests need root (ip netns, veth, tc); run make test as root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: install Debian's iproute2 (make test does)"
    return None


needs_root = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


def ip(*args: str, check: bool = True) -> str:
    """Run ``ip ARGS`` and return its output; raise with its stderr on failure."""
    return _run(["ip", *args], check)


def tc(*args: str, check: bool = True) -> str:
    return _run(["tc", *args], check)


def _run(cmd: list[str], check: bool) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """Remove namespaces, links and addresses of earlier runs whose process is gone."""
    tags = set(re.findall(r"\b" + re.escape(PREFIX) + r"(\d+-\d+)\b", ip("netns", "list")))
    tags |= set(re.findall(r"\blo:vn(\d+-\d+)\b", ip("-o", "addr", "show", "dev", "lo")))
    for tag in tags:
        if not _alive(int(tag.split("-")[0])):
            _teardown(tag)


def _teardown(tag: str) -> None:
    """Remove the namespace, root-side links, server address and blackhole route of bed
    ``tag`` (pid-index)."""
    ip("netns", "del", PREFIX + tag, check=False)
    for m in re.finditer(rf"^\d+: (vn{tag}r\d+)[@:]", ip("-o", "link", "show"), re.M):
        ip("link", "del", m.group(1), check=False)
    lo = ip("-o", "addr", "show", "dev", "lo")
    for m in re.finditer(rf"inet ({SERVER_NET}\.(\d+)\.\d+)/32 .*lo:vn{tag}\b", lo):
        ip("addr", "del", f"{m.group(1)}/32", "dev", "lo", check=False)
        ip("route", "del", "blackhole", _link_net(int(m.group(2))), check=False)


def _link_net(octet: int) -> str:
    """The /24 that holds every link address of the bed with this octet."""
    return f"{LINK_NET}.{octet}.0/24"


def _free_octet(pid: int) -> int:
    used = set(re.findall(rf"inet (?:{SERVER_NET}|{LINK_NET})\.(\d+)\.", ip("-o", "addr", "show")))
    for i in range(250):
        n = (pid + i) % 250 + 1
        if str(n) not in used:
            return n
    raise RuntimeError(f"no free {SERVER_NET}.N.0/24 left for a test network")


@dataclass
class NetBed:
    """The phone's namespace and its current link; see the module docstring."""

    pid: int
    index: int
    octet: int
    pairs: int = 0
    shaped_kbit: int | None = None
    _down: set[str] = field(default_factory=set)

    @property
    def tag(self) -> str:
        return f"{self.pid}-{self.index}"

    @property
    def ns(self) -> str:
        return f"{PREFIX}{self.tag}"

    @property
    def server_host(self) -> str:
        return f"{SERVER_NET}.{self.octet}.1"

    @property
    def pair(self) -> int:
        """The index of the veth pair the phone uses now."""
        return self.pairs - 1

    def root_dev(self, pair: int | None = None) -> str:
        return f"vn{self.tag}r{self.pair if pair is None else pair}"

    def phone_dev(self, pair: int | None = None) -> str:
        return f"vn{self.tag}p{self.pair if pair is None else pair}"

    def _addr(self, pair: int, host: int) -> str:
        base = ipaddress.ip_address(f"{LINK_NET}.{self.octet}.0")
        return str(base + 4 * pair + host)

    @property
    def gateway(self) -> str:
        return self._addr(self.pair, 1)

    @property
    def phone_address(self) -> str:
        return self._addr(self.pair, 2)

    # -- set-up -----------------------------------------------------------------------

    def create(self) -> None:
        ip("netns", "add", self.ns)
        ip("-n", self.ns, "link", "set", "lo", "up")
        ip("addr", "add", f"{self.server_host}/32", "dev", "lo", "label", f"lo:vn{self.tag}")
        # Packets for a phone address whose link is down or gone end here, not on the
        # default route (the connected /30 of a live link is more specific).
        ip("route", "replace", "blackhole", _link_net(self.octet))
        self._add_pair()

    def _add_pair(self) -> None:
        if self.pairs >= 50:
            raise RuntimeError("too many address changes for one test network")
        k = self.pairs
        self.pairs += 1
        root, phone = self.root_dev(k), self.phone_dev(k)
        ip("link", "add", root, "type", "veth", "peer", "name", phone)
        ip("link", "set", phone, "netns", self.ns)
        ip("addr", "add", f"{self._addr(k, 1)}/30", "dev", root)
        ip("link", "set", root, "up")
        ip("-n", self.ns, "addr", "add", f"{self._addr(k, 2)}/30", "dev", phone)
        ip("-n", self.ns, "link", "set", phone, "up")
        ip("-n", self.ns, "route", "replace", "default", "via", self._addr(k, 1), "dev", phone)
        if self.shaped_kbit is not None:
            self.shape(self.shaped_kbit)
        self._wait_carrier()

    def destroy(self) -> None:
        _teardown(self.tag)

    # -- faults -----------------------------------------------------------------------

    def link_down(self, side: str = "phone") -> None:
        """Drop the phone's current link: its own interface (``phone``, the default: the phone
        sees its network go away) or the far end (``server``: the phone's interface stays up
        and nothing tells it the path is gone)."""
        self._set(side, "down")

    def link_up(self, side: str | None = None) -> None:
        """Bring back the link taken down (by default whichever side ``link_down`` took down)."""
        sides = [side] if side else sorted(self._down) or ["phone"]
        for s in sides:
            self._set(s, "up")
        # The phone's default route goes with its interface; put it back.
        ip("-n", self.ns, "route", "replace", "default", "via", self.gateway, "dev", self.phone_dev())
        self._wait_carrier()
        # Address resolution that failed while the link was down would otherwise be retried
        # only after the kernel's own timers: the link is back like a plugged-in cable.
        ip("-n", self.ns, "neigh", "flush", "dev", self.phone_dev(), check=False)
        ip("neigh", "flush", "dev", self.root_dev(), check=False)

    def _wait_carrier(self) -> None:
        """Wait (bounded) until both ends report the link up, as the kernel does it lazily."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            phone = ip("-n", self.ns, "-o", "link", "show", self.phone_dev())
            root = ip("-o", "link", "show", self.root_dev())
            if "state UP" in phone and "state UP" in root:
                return
            time.sleep(0.02)
        raise RuntimeError(f"link {self.root_dev()} <-> {self.phone_dev()} did not come up within 5 s")

    def _set(self, side: str, state: str) -> None:
        if side == "phone":
            ip("-n", self.ns, "link", "set", self.phone_dev(), state)
        elif side == "server":
            ip("link", "set", self.root_dev(), state)
        else:
            raise ValueError(f"side must be 'phone' or 'server', not {side!r}")
        if state == "down":
            self._down.add(side)
        else:
            self._down.discard(side)

    def shape(self, rate_kbit: int, latency_ms: int = 300) -> None:
        """A thin uplink: a token bucket of ``rate_kbit`` kbit/s on the phone's egress."""
        burst = max(4096, rate_kbit * 1000 // 8 // 20)  # 50 ms at the rate, at least 4 KiB
        tc("-n", self.ns, "qdisc", "replace", "dev", self.phone_dev(), "root", "tbf",
           "rate", f"{rate_kbit}kbit", "burst", str(burst), "latency", f"{latency_ms}ms")  # fmt: skip
        self.shaped_kbit = rate_kbit

    def unshape(self) -> None:
        tc("-n", self.ns, "qdisc", "del", "dev", self.phone_dev(), "root", check=False)
        self.shaped_kbit = None

    def change_address(self) -> str:
        """Move the phone to a new network: a new veth pair and address, the old one gone
        (as when a phone leaves Wi-Fi for mobile data). Returns the new address."""
        old = self.pair
        self._add_pair()
        ip("link", "del", self.root_dev(old), check=False)
        self._down.clear()
        return self.phone_address

    # -- the phone's browser ----------------------------------------------------------

    def run(self, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        """Run a command inside the phone's namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns, *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def chromium_executable(self, directory: Path, chromium: str = CHROMIUM) -> Path:
        """A script to give Playwright as ``executable_path``: Chromium in the phone's
        namespace (Playwright drives it over a pipe, which crosses namespaces)."""
        script = directory / f"chromium-{self.ns}.sh"
        script.write_text(f'#!/bin/sh\nexec ip netns exec {self.ns} {chromium} "$@"\n')
        script.chmod(0o755)
        return script

    @staticmethod
    def chromium_args(origin: str) -> list[str]:
        """Flags that make ``origin`` (http://host:port) a secure context (camera,
        crypto.subtle) and keep host candidates as plain addresses (no mDNS names)."""
        return [
            f"--unsafely-treat-insecure-origin-as-secure={origin}",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
        ]


def browser_args(camera_clip: Path, origin: str) -> list[str]:
    """Chromium's flags for a test browser (as tests/e2e/conftest.py) whose pages on
    ``origin`` are a secure context: the fake camera plays ``camera_clip``."""
    return [*chromium_args(camera_clip), *NetBed.chromium_args(origin)]


async def launch_chromium(
    playwright: Playwright,
    camera_clip: Path,
    origin: str,
    bed: NetBed | None = None,
    directory: Path | None = None,
) -> Browser:
    """A headless Chromium for pages on ``origin``: inside the phone's namespace when ``bed``
    is given (``directory`` holds the wrapper script), else in the root namespace."""
    executable = CHROMIUM
    if bed is not None:
        if directory is None:
            raise ValueError("a directory for the wrapper script is needed with a bed")
        executable = str(bed.chromium_executable(directory))
    return await playwright.chromium.launch(
        executable_path=executable, args=browser_args(camera_clip, origin)
    )


@contextlib.contextmanager
def netbed() -> Iterator[NetBed]:
    """A fresh phone namespace and link, removed afterwards (also after a failure)."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    remove_stale()
    pid = os.getpid()
    ours = {int(i) for i in re.findall(rf"\b{PREFIX}{pid}-(\d+)\b", ip("netns", "list"))}
    index = min(set(range(len(ours) + 1)) - ours)
    bed = NetBed(pid=pid, index=index, octet=_free_octet(pid))
    try:
        bed.create()
        yield bed
    finally:
        bed.destroy()


@pytest.fixture
def bed() -> Iterator[NetBed]:
    with netbed() as b:
        yield b
