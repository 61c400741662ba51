"""Cameras benchmark: one against two facility phones in one audit, with the recorder on.

    .venv/bin/python bench/cameras.py [--duration 20] [--warmup 3] [--joins 5]
        [--width 1280 --height 720 --fps 30] [--pin-core K]

For one camera, then two: ``virtual-audit serve`` in a child process (recording as in
production), pinned to one core (``--pin-core``, by default the last core this process may
use), and in this process one aiortc auditor that receives both cameras' tracks and one
aiortc phone per camera, each replaying a VP8 clip encoded once (so the phones cost no
encoding). Over ``--duration`` seconds after ``--warmup``:

* the server's CPU (core-seconds per second: user + system of the whole process);
* what the server forwarded to the auditor, per camera and in all (bytes of the encoded
  frames its taps received, per second);
* what the recorder wrote (bytes/s of every file under the audit's ``recording/``).

Then ``--joins`` times: camera 1 streaming and the auditor watching, a second phone joins
(new socket, consent, offer, ICE, DTLS) and the time from its ``join`` to the first frame of
camera 2 at the auditor is measured; the phone leaves before the next try.

Markdown goes to stdout, progress to stderr. See docs/benchmarks.md, "Two cameras".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import procs
from clip import describe, make_clip

from server.media.client import ParticipantClient
from server.media.frames import EncodedFrame
from server.simcam import ClipReplayTrack, EncodedClip

CONNECT_TIMEOUT_S = 30.0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Received:
    """What the auditor's tap of one camera's track saw."""

    frames: int = 0
    bytes: int = 0
    first_at: float | None = None  # time.monotonic() of the first frame

    def sink(self, frame: EncodedFrame) -> None:
        if self.first_at is None:
            self.first_at = time.monotonic()
        self.frames += 1
        self.bytes += len(frame.data)


@dataclass
class Figures:
    cameras: int
    cpu: float  # server core-seconds per second
    forwarded_kbps: dict[int, float] = field(default_factory=dict)
    forwarded_fps: dict[int, float] = field(default_factory=dict)
    sent_fps: dict[int, float] = field(default_factory=dict)  # what the phones sent (a starved sender shows)
    recording_kbps: float = 0.0


def recording_bytes(data_dir: Path, audit_id: str) -> int:
    root = data_dir / "evidence" / audit_id / "recording"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


async def until(predicate: Callable[[], bool], what: str, seconds: float = CONNECT_TIMEOUT_S) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds:.0f} s")
        await asyncio.sleep(0.02)


async def new_audit(http: httpx.AsyncClient, phones: int) -> tuple[str, list[str]]:
    r = await http.post("/api/audits", json={"facility": {"name": "Bench two docks", "country": "VN"}})
    r.raise_for_status()
    audit_id = str(r.json()["id"])
    invites = []
    for n in range(phones):
        r = await http.post(f"/api/audits/{audit_id}/invites", json={"label": f"Phone {n + 1}"})
        r.raise_for_status()
        invites.append(str(r.json()["token"]))
    return audit_id, invites


def phone(ws_url: str, invite: str, clip: EncodedClip, device: str) -> ParticipantClient:
    track = ClipReplayTrack(clip)
    return ParticipantClient(ws_url, token=invite, video=track, video_codec="VP8", device=device)


async def steady_state(
    server: procs.ServerProcess, data_dir: Path, clip: EncodedClip, cameras: int, opts: argparse.Namespace
) -> Figures:
    """CPU, forwarding and recording figures with ``cameras`` phones streaming."""
    headers = {"Authorization": f"Bearer {opts.token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
        audit_id, invites = await new_audit(http, cameras)
    ws_url = server.base_url.replace("http://", "ws://") + f"/ws/audits/{audit_id}"
    seen = {n: Received() for n in range(1, cameras + 1)}
    auditor = ParticipantClient(ws_url, headers=headers, camera_taps={n: r.sink for n, r in seen.items()})
    phones = [phone(ws_url, invite, clip, f"bench-phone-{n:04d}") for n, invite in enumerate(invites, 1)]
    try:
        for p in phones:
            await p.connect(CONNECT_TIMEOUT_S)
        await auditor.connect(CONNECT_TIMEOUT_S)
        await until(lambda: all(r.frames for r in seen.values()), "every camera's first frame at the auditor")
        await asyncio.sleep(opts.warmup)  # the encoders' ramp and the first segments: not measured
        t0, cpu0, rec0 = time.monotonic(), server.cpu_seconds(), recording_bytes(data_dir, audit_id)
        counts0 = {n: (r.frames, r.bytes) for n, r in seen.items()}
        sent0 = {n: sent(p) for n, p in enumerate(phones, 1)}
        await asyncio.sleep(opts.duration)
        t1, cpu1, rec1 = time.monotonic(), server.cpu_seconds(), recording_bytes(data_dir, audit_id)
        span = t1 - t0
        figures = Figures(cameras, (cpu1 - cpu0) / span, recording_kbps=(rec1 - rec0) * 8 / 1000 / span)
        for n, r in seen.items():
            frames0, bytes0 = counts0[n]
            figures.forwarded_kbps[n] = (r.bytes - bytes0) * 8 / 1000 / span
            figures.forwarded_fps[n] = (r.frames - frames0) / span
            figures.sent_fps[n] = (sent(phones[n - 1]) - sent0[n]) / span
        return figures
    finally:
        await auditor.close()
        for p in phones:
            await p.close()


async def second_camera_joins(
    server: procs.ServerProcess, token: str, clip: EncodedClip, joins: int
) -> list[float]:
    """Seconds from a second phone's ``join`` to camera 2's first frame at the auditor."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as http:
        audit_id, (first, second) = await new_audit(http, 2)
    ws_url = server.base_url.replace("http://", "ws://") + f"/ws/audits/{audit_id}"
    cam1, results = Received(), []
    cam2 = [Received()]
    taps = {1: cam1.sink, 2: lambda f: cam2[-1].sink(f)}
    auditor = ParticipantClient(ws_url, headers=headers, camera_taps=taps)
    one = phone(ws_url, first, clip, "bench-phone-0001")
    try:
        await one.connect(CONNECT_TIMEOUT_S)
        await auditor.connect(CONNECT_TIMEOUT_S)
        await until(lambda: cam1.frames > 0, "camera 1's first frame")
        for attempt in range(joins):
            cam2.append(Received())
            two = phone(ws_url, second, clip, "bench-phone-0002")
            started = time.monotonic()
            try:
                await two.connect(CONNECT_TIMEOUT_S)
                await until(lambda: cam2[-1].first_at is not None, "camera 2's first frame")
            finally:
                await two.close()
            first_at = cam2[-1].first_at
            assert first_at is not None
            results.append(first_at - started)
            progress(f"  join {attempt + 1}/{joins}: camera 2's first frame in {results[-1] * 1000:.0f} ms")
            await until(lambda: cameras_listed(auditor) == [1], "the room tells the auditor camera 2 left")
    finally:
        await auditor.close()
        await one.close()
    return results


def sent(client: ParticipantClient) -> int:
    """Frames the phone's clip track has sent so far."""
    return client.video.sent if isinstance(client.video, ClipReplayTrack) else 0


def cameras_listed(auditor: ParticipantClient) -> list[int]:
    """The camera numbers of the newest ``cameras`` message the auditor got."""
    listed = [m for m in auditor.messages if m.get("type") == "cameras"]
    return [c["id"] for c in listed[-1]["cameras"]] if listed else []


def table(figures: list[Figures], joins: list[float]) -> str:
    lines = [
        "| cameras | server CPU (core-s/s) | forwarded to the viewer, per camera | forwarded in all "
        "| recording written |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        per = ", ".join(
            f"camera {n}: {f.forwarded_kbps[n] / 1000:.2f} Mbit/s ({f.forwarded_fps[n]:.0f} of "
            f"{f.sent_fps[n]:.0f} fps sent)"
            for n in sorted(f.forwarded_kbps)
        )
        total = sum(f.forwarded_kbps.values()) / 1000
        lines.append(
            f"| {f.cameras} | {f.cpu:.3f} | {per} | {total:.2f} Mbit/s | "
            f"{f.recording_kbps / 8:.0f} kB/s ({f.recording_kbps / 1000:.2f} Mbit/s) |"
        )
    if joins:
        ms = sorted(j * 1000 for j in joins)
        lines += [
            "",
            f"Time from a second phone's `join` to camera 2's first frame at the auditor ({len(ms)} joins): "
            f"median {statistics.median(ms):.0f} ms, best {ms[0]:.0f} ms, worst {ms[-1]:.0f} ms.",
        ]
    return "\n".join(lines)


async def run(opts: argparse.Namespace, clip: EncodedClip, cores: set[int] | None) -> str:
    figures: list[Figures] = []
    joins: list[float] = []
    for cameras in (1, 2):
        with procs.workdir() as work, procs.hub_server(work, cores) as (server, token):
            progress(f"{cameras} camera(s): {opts.duration:.0f} s measured after {opts.warmup:.0f} s")
            opts.token = token
            figures.append(await steady_state(server, work / "data", clip, cameras, opts))
            if cameras == 2 and opts.joins:
                progress(f"second phone joining {opts.joins} times")
                joins = await second_camera_joins(server, token, clip, opts.joins)
    return table(figures, joins)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per case (default 20)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds after the first frames (default 3)")
    p.add_argument("--joins", type=int, default=5, help="second-camera joins timed (default 5)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--bitrate", type=int, default=2_000_000, help="clip bitrate in bit/s (default 2000000)")
    p.add_argument("--pin-core", type=int, default=max(os.sched_getaffinity(0)), help="-1: no pinning")
    opts = p.parse_args()
    server_cores, generator_cores = procs.split_cores(opts.pin_core)
    if generator_cores is not None:
        os.sched_setaffinity(0, generator_cores)
    progress(f"encoding a 300-frame {opts.width}x{opts.height} clip")
    clip = make_clip("textured", 300, opts.width, opts.height, opts.fps, 30, opts.bitrate)
    body = asyncio.run(run(opts, clip, server_cores))
    print(f"## Two cameras: `bench/cameras.py`\n\n{procs.machine()}; clip {describe(clip)}.\n\n{body}")


if __name__ == "__main__":
    main()
