"""Recorder benchmark: capture latency, stills kept or dropped, with N live sessions.

    .venv/bin/python bench/captures.py --sessions N [--window-ms 500] [--captures 20] [--duration 20]

Starts ``virtual-audit serve`` (recording on, as in production) in a child process pinned
to one core, connects N phone + auditor pairs replaying a pre-encoded 720p clip, then
asks for captures one after another, round-robin over the audits, through
``POST /api/audits/{id}/captures`` and times each request until its 201 (the JPEG and its
row are fsynced by then). At the end it reads each audit's recorder counters
(``GET /api/audits/{id}/recording``) for stills kept and dropped. Server CPU per session
for the same load comes from bench/sessions.py (with and without ``--no-record``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence

import httpx
import procs
from clip import make_clip
from peers import Session, hub_session


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--window-ms", type=int, default=500, help="the server's capture window")
    p.add_argument("--captures", type=int, default=20, help="captures to time")
    p.add_argument(
        "--duration", type=float, default=20.0, help="seconds of live media before reading counters"
    )
    p.add_argument("--pin-core", type=int, default=-1, help="core for the server (default: the last one)")
    return p.parse_args(argv)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    clip = await asyncio.to_thread(make_clip, "textured", 300, 1280, 720, 30, 30, 2_000_000)
    pin = args.pin_core if args.pin_core >= 0 else max(os.sched_getaffinity(0))
    server_cores, own_cores = procs.split_cores(pin)
    if own_cores:
        procs.pin(os.getpid(), own_cores)
    options = ["--capture-window-ms", str(args.window_ms)]
    with procs.workdir() as work, procs.hub_server(work, server_cores, options) as (server, token):
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
            sessions: list[Session] = []
            audits: list[str] = []
            try:
                for i in range(args.sessions):
                    sessions.append(await hub_session(i, clip, server.base_url, http, decode=False))
                    audits.append((await http.get("/api/audits")).json()["items"][0]["id"])
                await asyncio.gather(*(asyncio.wait_for(s.auditor.first.wait(), 30) for s in sessions))
                await asyncio.sleep(2)
                started = time.monotonic()
                latencies = []
                for n in range(args.captures):
                    audit_id = audits[n % len(audits)]
                    t0 = time.perf_counter()
                    r = await http.post(f"/api/audits/{audit_id}/captures", json={})
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 201:
                        print(f"capture {n}: {r.status_code} {r.text[:200]}", file=sys.stderr)
                await asyncio.sleep(max(0.0, args.duration - (time.monotonic() - started)))
                stills = dropped = 0
                for audit_id in audits:
                    live = (await http.get(f"/api/audits/{audit_id}/recording")).json()["live"] or {}
                    stills += int(live.get("stills", 0))
                    dropped += int(live.get("stills_dropped", 0))
                elapsed = time.monotonic() - started + 2
            finally:
                await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    rate = stills / elapsed / args.sessions
    print(
        f"| {args.sessions} | {args.window_ms} | {len(latencies)} | {statistics.median(latencies):.0f} | "
        f"{percentile(latencies, 0.95):.0f} | {max(latencies):.0f} | "
        f"{stills} ({rate:.2f}/s per session) | {dropped} |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    print("| sessions | window ms | captures | p50 ms | p95 ms | max ms | stills kept | stills dropped |")
    print("|---|---|---|---|---|---|---|---|")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
