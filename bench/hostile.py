"""Hostile-input benchmark: what each hostile upload or message flood makes the server spend, 10 at once.

    .venv/bin/python bench/hostile.py [--concurrency 10] [--inputs all|uploads|signaling]

Starts ``virtual-audit serve`` (bench/procs.py), then for each input sends
``--concurrency`` copies at once and reads, from /proc, the server's CPU time and its peak
resident memory over the burst (VmHWM, reset before each burst). Uploads: a PNG whose forged
header declares 30000×30000 pixels, a zip bomb (1 GiB of zeros as the ledger), a package of
200 000 problems, and, for scale, an honest 12-megapixel JPEG photo. Each photo comes from
its own invite (the per-invite rate limit is not what is measured here).

Signaling floods, each from ``--concurrency`` sockets at once, every socket joined with its
own invite and device id (joining, consent and the offer happen before the burst): 500
``consent`` messages a socket, 300 ``ping`` messages a socket sent at once, 3 000 ``candidate``
messages a socket after a valid offer, and a JSON document nested 30 000 deep (under 64 KiB)
sent to ``POST /api/audits`` and on a socket before ``join``. Replies are read as they come;
for each flood the bench counts what came back, checks with a ``ping`` (after the wait the
server asked for) that every socket is still open, and counts the ledger entries the audit
gained over the burst. The offer's SDP carries no candidates and the trickled ones name
127.0.0.1, so every connectivity check the server sends stays on this machine.

Markdown tables go to stdout, progress to stderr. Every wait is bounded (``SOCKET_TIMEOUT_S``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection
from procs import REPO_DIR, ServerProcess, hub_server, machine, workdir

sys.path.insert(0, str(REPO_DIR))
from tests.hostile_inputs import SocketReader, picture, png_bomb, problem_package, zip_bomb

Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
T = TypeVar("T")

SOCKET_TIMEOUT_S = 60.0
CONSENTS, PINGS, CANDIDATES = 500, 300, 3000
NESTED = "[" * 30_000 + "]" * 30_000  # 60 000 bytes: under the 64 KiB frame limit


@dataclass
class Cost:
    wall_s: float
    cpu_s: float
    rss_mb: float
    peak_mb: float


@dataclass
class Row:
    name: str
    upload_kb: float
    statuses: str
    cost: Cost
    answer_kb: float


@dataclass
class FloodRow:
    name: str
    sent: str
    replies: str
    still_open: str
    ledger: str
    cost: Cost


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


async def measured(server: ServerProcess, work: Awaitable[T]) -> tuple[T, Cost]:
    """Run ``work``; the server's CPU time and peak RSS growth meanwhile, and the wall time."""
    pid = server.proc.pid
    reset_peak(pid)
    rss, cpu = kib(pid, "VmRSS"), server.cpu_seconds()
    start = time.perf_counter()
    result = await work
    wall = time.perf_counter() - start
    cost = Cost(wall, server.cpu_seconds() - cpu, rss / 1024, (kib(pid, "VmHWM") - rss) / 1024)
    return result, cost


def api(server: ServerProcess, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    )


async def burst(server: ServerProcess, token: str, name: str, size: int, send: Send, n: int) -> Row:
    async with api(server, token) as http:
        answers, cost = await measured(server, asyncio.gather(*(send(http, i) for i in range(n))))
    codes = [a.status_code for a in answers]
    statuses = ", ".join(f"{code}×{codes.count(code)}" for code in sorted(set(codes)))
    return Row(name, size / 1024, statuses, cost, max(len(a.content) for a in answers) / 1024)


async def photo_sender(server: ServerProcess, token: str, data: bytes, n: int) -> Send:
    """One invite per request, so that each request is a different phone."""
    async with api(server, token) as http:
        audit = await new_audit(http)
        invites = await new_invites(http, audit, n)

    async def send(http: httpx.AsyncClient, i: int) -> httpx.Response:
        return await http.post(
            f"/api/audits/{audit}/photos",
            files={"file": ("p", data, "application/octet-stream")},
            headers={"Authorization": f"Invite {invites[i]}"},
        )

    return send


def verify_sender(data: bytes) -> Send:
    async def send(http: httpx.AsyncClient, i: int) -> httpx.Response:
        return await http.post("/api/verify?name=hostile.zip", content=data)

    return send


async def uploads(server: ServerProcess, token: str, n: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        bomb_zip = zip_bomb(Path(tmp) / "bomb.zip", inflated=1 << 30).read_bytes()
        problems = problem_package(Path(tmp) / "problems.zip", lines=200_000).read_bytes()
    cases: list[tuple[str, bytes, Send]] = [
        ("honest 12 MP JPEG photo", (jpg := picture(4000, 3000)), await photo_sender(server, token, jpg, n)),
        ("PNG bomb 30000×30000", (png := png_bomb()), await photo_sender(server, token, png, n)),
        ("zip bomb (1 GiB ledger) verify", bomb_zip, verify_sender(bomb_zip)),
        ("200 000-problem package verify", problems, verify_sender(problems)),
    ]
    rows = []
    for name, data, send in cases:
        print(f"{name} ×{n}…", file=sys.stderr)
        rows.append(await burst(server, token, name, len(data), send, n))
        await asyncio.sleep(1)
    return rows


# --- signaling floods -------------------------------------------------------------------


async def new_audit(http: httpx.AsyncClient) -> str:
    r = await http.post("/api/audits", json={"facility": {"name": "Bench", "country": "VN"}})
    r.raise_for_status()
    return str(r.json()["id"])


async def new_invites(http: httpx.AsyncClient, audit: str, n: int) -> list[str]:
    return [(await http.post(f"/api/audits/{audit}/invites", json={})).json()["token"] for _ in range(n)]


async def ledger_kinds(http: httpx.AsyncClient, audit: str) -> list[str]:
    r = await http.get(f"/api/audits/{audit}/ledger")
    r.raise_for_status()
    return [str(e.get("kind", e["type"])) for e in r.json()["entries"]]


class Sock(SocketReader):
    """A signaling socket for the bench: waits report failure instead of raising."""

    @property
    def is_open(self) -> bool:
        return not self.reader.done()

    async def until(self, done: Callable[[list[dict[str, Any]]], bool]) -> bool:
        """Wait (at most SOCKET_TIMEOUT_S) until ``done(messages)``; False if it never was."""
        try:
            async with asyncio.timeout(SOCKET_TIMEOUT_S):
                while not done(self.messages):
                    if self.reader.done():
                        return False
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            return False
        return True

    async def reply(self, message: dict[str, Any] | str) -> dict[str, Any] | None:
        count = len(self.messages)
        await self.send(message)
        return self.messages[count] if await self.until(lambda ms: len(ms) > count) else None

    async def still_answers(self) -> bool:
        """After the wait the server last asked for, is a ping answered with a pong?"""
        waits = [m.get("retry_after_ms", 0) for m in self.messages if m.get("code") == "rate_limited"]
        await asyncio.sleep(min(max(waits, default=0) / 1000, 5.0))
        return self.is_open and await self.reply({"type": "ping"}) == {"type": "pong"}

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait([self.reader], timeout=5)


async def connect(server: ServerProcess, audit: str) -> Sock:
    url = f"ws://127.0.0.1:{server.port}/ws/audits/{audit}"
    return Sock(await websockets.connect(url, max_size=1 << 20, open_timeout=10))


async def join(server: ServerProcess, audit: str, invite: str, i: int) -> Sock:
    sock = await connect(server, audit)
    await sock.send({"type": "join", "token": invite, "device": f"bench-phone-{i:04d}"})
    if not await sock.until(lambda ms: any(m["type"] == "checkpoint" for m in ms)):
        raise RuntimeError(f"socket {i} was not welcomed: {sock.messages[-1:]}")
    return sock


async def offer_sdp() -> str:
    """A browser-like offer (audio sendrecv, video recvonly) without candidates: the server
    then sends connectivity checks only to the candidates trickled later (all 127.0.0.1)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN server
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    lines = [ln for ln in sdp.split("\r\n") if not ln.startswith(("a=candidate:", "a=end-of-candidates"))]
    return "\r\n".join(lines)


def tally(replies: list[dict[str, Any]]) -> str:
    counts = Counter(m.get("code", m["type"]) for m in replies)
    return ", ".join(f"{kind} {count:,}" for kind, count in counts.most_common()) or "none"


def ledger_gain(before: list[str], after: list[str]) -> str:
    gained = Counter(after[len(before) :])
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(gained.items()))
    return f"+{len(after) - len(before)}" + (f" ({detail})" if detail else "")


async def consent_and_offer(sock: Sock, sdp: str) -> None:
    consent = await sock.reply({"type": "consent", "accepted": True})
    if consent is None or consent["type"] != "consent-recorded":
        raise RuntimeError(f"consent not recorded: {consent}")
    await sock.send({"type": "offer", "sdp": sdp})
    if not await sock.until(lambda ms: any(m["type"] == "answer" for m in ms)):
        raise RuntimeError(f"no answer to the offer: {sock.messages[-1:]}")


Spam = Callable[[Sock], Awaitable[object]]
Done = Callable[[list[dict[str, Any]]], bool]


async def flood(
    server: ServerProcess,
    token: str,
    n: int,
    name: str,
    sent: str,
    spam: Spam,
    done: Done,
    *,
    joined: bool = True,
    sdp: str | None = None,
) -> FloodRow:
    """``n`` sockets (joined, consented and offered as asked) each run ``spam`` at once; the
    burst ends when every socket's replies since the burst satisfy ``done``."""
    print(f"{name} ×{n}…", file=sys.stderr)
    async with api(server, token) as http:
        audit = await new_audit(http)
        invites = await new_invites(http, audit, n)
        socks: list[Sock] = []
        try:
            for i in range(n):
                socks.append(
                    await join(server, audit, invites[i], i) if joined else await connect(server, audit)
                )
            if sdp is not None:
                for sock in socks:
                    await consent_and_offer(sock, sdp)
            await asyncio.sleep(0.5)  # presence and media messages of the setup settle
            before = await ledger_kinds(http, audit)
            starts = [len(sock.messages) for sock in socks]

            async def one(sock: Sock, start: int) -> bool:
                await spam(sock)
                return await sock.until(lambda ms: done(ms[start:]))

            finished, cost = await measured(
                server, asyncio.gather(*(one(s, k) for s, k in zip(socks, starts, strict=True)))
            )
            after = await ledger_kinds(http, audit)
            replies = [m for sock, start in zip(socks, starts, strict=True) for m in sock.messages[start:]]
            answering = await asyncio.gather(*(sock.still_answers() for sock in socks))
        finally:
            await asyncio.gather(*(sock.close() for sock in socks), return_exceptions=True)
    unfinished = f" ({finished.count(False)} sockets timed out)" if not all(finished) else ""
    return FloodRow(
        name, sent, tally(replies) + unfinished, f"{sum(answering)}/{n}", ledger_gain(before, after), cost
    )


def replies_at_least(count: int) -> Done:
    return lambda ms: len(ms) >= count


def pong_seen(ms: list[dict[str, Any]]) -> bool:
    return any(m["type"] == "pong" for m in ms)


async def send_many(sock: Sock, count: int, make: Callable[[int], dict[str, Any]]) -> None:
    for i in range(count):
        await sock.send(make(i))


def candidate(i: int) -> dict[str, Any]:
    line = f"candidate:{i} 1 udp 2122260223 127.0.0.1 {40000 + i} typ host"
    return {"type": "candidate", "candidate": {"candidate": line, "sdpMLineIndex": 0}}


async def candidates_then_ping(sock: Sock) -> None:
    """The flood, then a ping: messages are handled in order, so its pong ends the burst
    (the candidates' replies are errors only, and not every candidate gets one)."""
    await send_many(sock, CANDIDATES, candidate)
    await sock.send({"type": "ping"})


async def nested_rest(server: ServerProcess, token: str, n: int) -> FloodRow:
    name = "nested JSON → POST /api/audits"
    print(f"{name} ×{n}…", file=sys.stderr)
    async with api(server, token) as http:
        count = len((await http.get("/api/audits")).json()["items"])
        json_type = {"content-type": "application/json"}
        answers, cost = await measured(
            server,
            asyncio.gather(*(http.post("/api/audits", content=NESTED, headers=json_type) for _ in range(n))),
        )
        gained = len((await http.get("/api/audits")).json()["items"]) - count
    codes = Counter(f"{a.status_code} {a.json().get('error', {}).get('code', '')}".strip() for a in answers)
    replies = ", ".join(f"{code} {k}" for code, k in codes.most_common())
    return FloodRow(name, f"{len(NESTED) / 1024:.0f} KB ×1", replies, "—", f"audits +{gained}", cost)


async def floods(server: ServerProcess, token: str, n: int) -> list[FloodRow]:
    sdp = await offer_sdp()
    rows = [
        await flood(
            server,
            token,
            n,
            "consent spam",
            f"{CONSENTS} consent",
            lambda s: send_many(s, CONSENTS, lambda i: {"type": "consent", "accepted": True}),
            replies_at_least(CONSENTS),
        ),
        await flood(
            server,
            token,
            n,
            "ping burst",
            f"{PINGS} ping at once",
            lambda s: asyncio.gather(*(s.send({"type": "ping"}) for _ in range(PINGS))),
            replies_at_least(PINGS),
        ),
        await flood(
            server,
            token,
            n,
            "ICE candidate flood after an offer",
            f"{CANDIDATES:,} candidate + ping",
            candidates_then_ping,
            pong_seen,
            sdp=sdp,
        ),
        await nested_rest(server, token, n),
        await flood(
            server,
            token,
            n,
            "nested JSON on the socket before join",
            f"{len(NESTED) / 1024:.0f} KB ×1",
            lambda s: s.send('{"type": "join", "x": ' + NESTED + "}"),
            replies_at_least(1),
            joined=False,
        ),
    ]
    return rows


def upload_table(rows: list[Row], n: int) -> str:
    out = [
        f"| input ({n} at once) | upload | answers | wall | server CPU | server RSS before | peak growth "
        "| answer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r.name} | {r.upload_kb:,.0f} KB | {r.statuses} | {r.cost.wall_s:.2f} s | {r.cost.cpu_s:.2f} s "
        f"| {r.cost.rss_mb:.0f} MB | {max(r.cost.peak_mb, 0):+.0f} MB | {r.answer_kb:.1f} KB |"
        for r in rows
    ]
    return "\n".join(out)


def flood_table(rows: list[FloodRow], n: int) -> str:
    out = [
        f"| input ({n} sockets/requests at once) | each sends | replies (all {n}) | wall | server CPU "
        "| server RSS before | peak growth | sockets answering after | ledger entries gained |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r.name} | {r.sent} | {r.replies} | {r.cost.wall_s:.2f} s | {r.cost.cpu_s:.2f} s "
        f"| {r.cost.rss_mb:.0f} MB | {max(r.cost.peak_mb, 0):+.0f} MB | {r.still_open} | {r.ledger} |"
        for r in rows
    ]
    return "\n".join(out)


async def run(server: ServerProcess, token: str, n: int, inputs: str) -> tuple[list[Row], list[FloodRow]]:
    upload_rows = await uploads(server, token, n) if inputs in ("all", "uploads") else []
    flood_rows = await floods(server, token, n) if inputs in ("all", "signaling") else []
    return upload_rows, flood_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--inputs", choices=("all", "uploads", "signaling"), default="all")
    args = parser.parse_args()
    n = args.concurrency
    with workdir() as work, hub_server(work, None, ["--no-record"]) as (server, token):
        upload_rows, flood_rows = asyncio.run(run(server, token, n, args.inputs))
    print(machine())
    if upload_rows:
        print(upload_table(upload_rows, n))
        print()
    if flood_rows:
        print(flood_table(flood_rows, n))


if __name__ == "__main__":
    main()
