"""Hostile-input benchmark: what each hostile upload makes the server spend, 10 at once.

    .venv/bin/python bench/hostile.py [--concurrency 10]

Starts ``virtual-audit serve`` (bench/procs.py), then for each input sends
``--concurrency`` copies at once and reads, from /proc, the server's CPU time and its peak
resident memory over the burst (VmHWM, reset before each burst). Inputs: a PNG whose forged
header declares 30000×30000 pixels, a zip bomb (1 GiB of zeros as the ledger), a package of
200 000 problems, and, for scale, an honest 12-megapixel JPEG photo. Each photo comes from
its own invite (the per-invite rate limit is not what is measured here). The Markdown
table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from procs import REPO_DIR, ServerProcess, hub_server, machine, workdir

sys.path.insert(0, str(REPO_DIR))
from tests.hostile_inputs import picture, png_bomb, problem_package, zip_bomb

Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass
class Row:
    name: str
    upload_kb: float
    statuses: str
    wall_s: float
    cpu_s: float
    rss_mb: float
    peak_mb: float
    answer_kb: float


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


async def burst(server: ServerProcess, token: str, name: str, size: int, send: Send, n: int) -> Row:
    pid = server.proc.pid
    reset_peak(pid)
    rss, cpu = kib(pid, "VmRSS"), server.cpu_seconds()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=120) as http:
        start = time.perf_counter()
        answers = await asyncio.gather(*(send(http, i) for i in range(n)))
        wall = time.perf_counter() - start
    codes = [a.status_code for a in answers]
    statuses = ", ".join(f"{code}×{codes.count(code)}" for code in sorted(set(codes)))
    return Row(
        name,
        size / 1024,
        statuses,
        wall,
        server.cpu_seconds() - cpu,
        rss / 1024,
        (kib(pid, "VmHWM") - rss) / 1024,
        max(len(a.content) for a in answers) / 1024,
    )


async def photo_sender(server: ServerProcess, token: str, data: bytes, n: int) -> Send:
    """One invite per request, so that each request is a different phone."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
        r = await http.post("/api/audits", json={"facility": {"name": "Bench", "country": "VN"}})
        audit = r.json()["id"]
        invites = [
            (await http.post(f"/api/audits/{audit}/invites", json={})).json()["token"] for _ in range(n)
        ]

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


async def run(server: ServerProcess, token: str, n: int) -> list[Row]:
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


def table(rows: list[Row], n: int) -> str:
    out = [
        f"| input ({n} at once) | upload | answers | wall | server CPU | server RSS before | peak growth "
        "| answer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r.name} | {r.upload_kb:,.0f} KB | {r.statuses} | {r.wall_s:.2f} s | {r.cpu_s:.2f} s "
        f"| {r.rss_mb:.0f} MB | {max(r.peak_mb, 0):+.0f} MB | {r.answer_kb:.1f} KB |"
        for r in rows
    ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=10)
    n = parser.parse_args().concurrency
    with workdir() as work, hub_server(work, None, ["--no-record"]) as (server, token):
        rows = asyncio.run(run(server, token, n))
    print(machine())
    print(table(rows, n))


if __name__ == "__main__":
    main()
