"""Session benchmark: N simulated phone + auditor pairs through the hub, a relay, or directly.

    .venv/bin/python bench/sessions.py --sessions N [--duration 10] [--width 1280 --height 720
        --fps 30] [--modes hub,relay,direct] [--repeat 1] [--pin-core K]
        [--hub-option=--no-record] [--save FILE]
    .venv/bin/python bench/sessions.py --report FILE [FILE ...]

Modes: ``hub`` is the product (``virtual-audit serve`` in a child process); ``relay`` is
the decode + re-encode baseline (bench/relay_server.py, a child process); ``direct``
connects each phone to its auditor inside this process, with no server in between.

Each phone replays a VP8 clip encoded once (frame n carries n in its pixels), so phones
cost no encoding. Servers are pinned to one core (``--pin-core``, by default the last
core this process may use) and this process to the others, so that the two do not
compete. The Markdown report goes to stdout, progress to stderr; ``--save`` keeps every
run so that ``--report`` can combine several invocations. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import peers
import probes
import procs
import report
from analysis import Delivery, Matches, Window, agreement, delivery, hash_index, match
from clip import describe, make_clip
from peers import Session
from report import RunResult

from server.media import framecode
from server.simcam import EncodedClip

MODES = ("hub", "relay", "direct")
DISTURBED_RETRIES = 3


@dataclass(frozen=True)
class Options:
    sessions: int
    duration: float
    width: int
    height: int
    fps: int
    modes: tuple[str, ...]
    repeat: int
    pin_core: int
    warmup: float
    grace: float
    hub_options: tuple[str, ...]
    save: Path | None
    report: tuple[Path, ...]
    idle_wait: float
    max_other_load: float
    clip: str
    clip_frames: int
    gop: int
    bitrate: int


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--sessions", type=int, default=1, help="phone + auditor pairs (default 1)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run (default 10)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated: hub, relay, direct")
    p.add_argument("--repeat", type=int, default=1, help="runs per mode; figures are medians (default 1)")
    default_core = max(os.sched_getaffinity(0)) if len(os.sched_getaffinity(0)) > 1 else -1
    p.add_argument(
        "--pin-core",
        type=int,
        default=default_core,
        help=f"core for the server process, the others for this one; -1: no pinning (default {default_core})",
    )
    p.add_argument("--warmup", type=float, default=2.0, help="seconds after every auditor's first frame")
    p.add_argument("--grace", type=float, default=1.0, help="seconds a frame sent in the window may take")
    p.add_argument(
        "--hub-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="extra option for 'virtual-audit serve', e.g. --hub-option=--still-interval=3600 (repeatable)",
    )
    p.add_argument("--save", type=Path, help="append every run's figures to this JSON-lines file")
    p.add_argument(
        "--report",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="measure nothing: print one report of the runs saved in these files",
    )
    p.add_argument(
        "--idle-wait",
        type=float,
        default=120.0,
        help="before each run, wait up to this many seconds for other load to stop (default 120)",
    )
    p.add_argument(
        "--max-other-load",
        type=float,
        default=0.1,
        help="measure again (up to 3 times) if other processes used more cores than this (default 0.1)",
    )
    p.add_argument(
        "--clip",
        choices=["textured", "plain"],
        default="textured",
        help="textured: detail that brings VP8 to --bitrate (default); plain: simcam's flat scene",
    )
    p.add_argument("--clip-frames", type=int, default=300, help="clip length; it loops (default 300)")
    p.add_argument("--gop", type=int, default=30, help="keyframe interval of the clip (default 30)")
    p.add_argument("--bitrate", type=int, default=2_000_000, help="clip bitrate in bit/s (default 2000000)")
    a = p.parse_args(argv)
    modes = tuple(m.strip() for m in a.modes.split(",") if m.strip())
    if not modes or any(m not in MODES for m in modes):
        p.error(f"--modes must be a comma-separated subset of {','.join(MODES)}")
    if a.sessions < 1 or a.repeat < 1 or a.duration <= 0 or a.fps < 1:
        p.error("--sessions, --repeat, --duration and --fps must be positive")
    if a.width < framecode.min_width():
        p.error(f"--width must be at least {framecode.min_width()} to carry the burned frame number")
    return Options(
        sessions=a.sessions,
        duration=a.duration,
        width=a.width,
        height=a.height,
        fps=a.fps,
        modes=modes,
        repeat=a.repeat,
        pin_core=a.pin_core,
        warmup=a.warmup,
        grace=a.grace,
        hub_options=tuple(a.hub_option),
        save=a.save,
        report=tuple(a.report or ()),
        idle_wait=a.idle_wait,
        max_other_load=a.max_other_load,
        clip=a.clip,
        clip_frames=a.clip_frames,
        gop=a.gop,
        bitrate=a.bitrate,
    )


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def measure(
    mode: str,
    opts: Options,
    clip: EncodedClip,
    server: procs.ServerProcess | None,
    token: str | None,
    switch: probes.StopSwitch,
) -> RunResult:
    """Connect every pair, wait for media, measure one window, hang up, then analyse."""
    task = asyncio.current_task()
    assert task is not None
    switch.guard(task)
    sessions: list[Session] = []
    probe = probes.LagProbe()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    base_url = server.base_url if server is not None else "http://127.0.0.1"
    budget = (peers.CONNECT_TIMEOUT_S + 5) * opts.sessions + peers.FIRST_FRAME_TIMEOUT_S + opts.warmup
    budget += peers.IDLE_SETTLE_S + peers.IDLE_MEASURE_S + opts.duration + opts.grace + 30
    idle_core = math.nan
    try:
        async with asyncio.timeout(budget), httpx.AsyncClient(base_url=base_url, headers=headers) as http:
            if server is not None:
                idle_core = await peers.idle_server_core(server)
            for i in range(opts.sessions):
                sessions.append(await peers.connect(mode, i, clip, server, http))
            progress(f"{mode}: {len(sessions)} sessions connected; waiting for video")
            await peers.first_frames(sessions)
            await asyncio.sleep(opts.warmup)
            start = probes.Marks.take(server, sessions)
            probe.start()
            await asyncio.sleep(opts.duration)
            await probe.stop()
            end = probes.Marks.take(server, sessions)
            await asyncio.sleep(opts.grace)
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    window = Window(start.wall_ns, end.wall_ns, int(opts.grace * 1e9))
    server_cpu = None if end.server_s is None or start.server_s is None else end.server_s - start.server_s
    result = RunResult(
        mode,
        opts.sessions,
        wall_s=(end.wall_ns - start.wall_ns) / 1e9,
        server_cpu_s=server_cpu,
        generator_cpu_s=end.own_s - start.own_s,
        decode_cpu_s=end.decode_s - start.decode_s,
        loop_lag_ms=probe.lateness_ms,
        server_idle_core=idle_core,
        machine_cpu_s=end.machine_s - start.machine_s,
        server_udp_drops=end.server_drops - start.server_drops,
        generator_udp_drops=end.own_drops - start.own_drops,
    )
    index = hash_index(clip.frames)
    for s in sessions:
        analyse(result, s, window, index, by_hash=mode != "relay")
    return result


def analyse(result: RunResult, s: Session, window: Window, index: dict[bytes, int], by_hash: bool) -> None:
    """Add one session's frames to ``result``: counted by hash, or by burned number (relay)."""
    sent = s.phone.sent_ns
    clip_len = len(s.phone.clip.frames)
    numbers: Matches | None = None
    by_number: Delivery | None = None
    decoder = s.auditor.decoder
    if decoder is not None:
        readings = list(decoder.readings)
        numbers = match([(r.arrival_ns, r.number) for r in readings], sent, clip_len)
        decoded_at = {r.arrival_ns: r.decoded_ns for r in readings}
        decoded = Matches({i: decoded_at[t] - sent[i] for t, i in numbers.by_arrival.items()})
        by_number = delivery(numbers, sent, window)
        result.number_ms += by_number.latency_ms
        result.decoded_ms += delivery(decoded, sent, window).latency_ms
        result.decoder_skipped += decoder.skipped
    if by_hash:
        hashes = match([(t, index.get(digest, -1)) for t, digest in s.auditor.frames], sent, clip_len)
        counted = delivery(hashes, sent, window)
        result.hash_ms += counted.latency_ms
        if numbers is not None:
            checked, agreed = agreement(hashes, numbers)
            result.checked += checked
            result.agreed += agreed
    else:
        assert by_number is not None, "the relay's auditors decode every frame"
        counted = by_number
    result.sent += counted.sent
    result.delivered += counted.delivered
    result.unmatched += counted.unmatched


def measure_in_new_loop(
    mode: str,
    opts: Options,
    clip: EncodedClip,
    server: procs.ServerProcess | None,
    token: str | None,
    switch: probes.StopSwitch,
) -> RunResult:
    try:
        return asyncio.run(measure(mode, opts, clip, server, token, switch))
    except asyncio.CancelledError:
        switch.check()
        raise
    finally:
        switch.install()
        switch.check()


def run_once(
    mode: str, opts: Options, clip: EncodedClip, cores: set[int] | None, switch: probes.StopSwitch
) -> RunResult:
    """Start the server for ``mode`` (if any), measure in a fresh event loop, stop the server."""
    with procs.workdir() as work:
        if mode == "hub":
            with procs.hub_server(work, cores, opts.hub_options) as (server, token):
                result = measure_in_new_loop(mode, opts, clip, server, token, switch)
                complaints = server.log_lines("WARNING", "ERROR", "Traceback")
        elif mode == "relay":
            with procs.relay_server(work, cores) as server:
                result = measure_in_new_loop(mode, opts, clip, server, None, switch)
                complaints = server.log_lines("WARNING", "ERROR", "Traceback")
        else:
            result = measure_in_new_loop(mode, opts, clip, None, None, switch)
            complaints = []
    result.server_warnings = len(complaints)
    if mode == "hub" and opts.hub_options:
        result.mode = f"hub {' '.join(opts.hub_options)}"
    result.settings = f"{opts.width}x{opts.height} at {opts.fps} fps, {opts.clip} clip"
    result.clip_mbps = sum(len(f) for f in clip.frames) * 8 * clip.fps / len(clip.frames) / 1e6
    for line in complaints[:10]:
        progress(f"{mode} server log: {line}")
    return result


def undisturbed_run(
    mode: str, opts: Options, clip: EncodedClip, cores: set[int] | None, switch: probes.StopSwitch
) -> RunResult:
    """Run once on a quiet machine; again (a few times) if other processes got busy meanwhile."""
    for attempt in range(1, DISTURBED_RETRIES + 2):
        load = procs.wait_for_quiet(opts.idle_wait)
        result = run_once(mode, opts, clip, cores, switch)
        progress(
            f"{mode}: server {result.server_core:.3f} core, lost {result.lost_pct:.2f} %, "
            f"other load {result.other_core:.2f} core (before: {load:.2f})"
        )
        if result.other_core <= opts.max_other_load or attempt > DISTURBED_RETRIES:
            return result
        progress(f"{mode}: other processes used {result.other_core:.2f} core meanwhile; measuring again")
    raise AssertionError("unreachable")


def header(opts: Options, clip: EncodedClip, cores: set[int] | None) -> str:
    pinning = (
        f"server pinned to core {sorted(cores)}, generator to {sorted(os.sched_getaffinity(0))}"
        if cores
        else "no pinning"
    )
    return (
        f"## Sessions benchmark: {opts.sessions} session(s), {opts.width}x{opts.height} at {opts.fps} fps, "
        f"{opts.duration:g} s window, {opts.repeat} run(s) per mode\n\n"
        f"Clip: {opts.clip}, {len(clip.frames)} VP8 frames, keyframe every {opts.gop}, "
        f"target {opts.bitrate / 1e6:g} Mbit/s, actual {describe(clip)}.\n\n"
        f"{procs.machine()}; {pinning}."
        + (f"\n\nHub options: `{' '.join(opts.hub_options)}`." if opts.hub_options else "")
    )


def main(argv: Sequence[str] | None = None) -> None:
    opts = parse_args(argv)
    switch = probes.StopSwitch()
    switch.install()
    if opts.report:
        title = "## Sessions benchmark: " + ", ".join(str(p) for p in opts.report)
        print(report.render(report.load(opts.report), f"{title}\n\n{procs.machine()}"))
        return
    server_cores, generator_cores = procs.split_cores(opts.pin_core)
    if generator_cores is not None:
        os.sched_setaffinity(0, generator_cores)
    progress(f"encoding a {opts.clip_frames}-frame {opts.clip} {opts.width}x{opts.height} clip")
    clip = make_clip(opts.clip, opts.clip_frames, opts.width, opts.height, opts.fps, opts.gop, opts.bitrate)
    results: list[RunResult] = []
    try:
        for run in range(opts.repeat):
            for mode in opts.modes:
                progress(f"run {run + 1}/{opts.repeat}: {mode} with {opts.sessions} session(s)")
                results.append(undisturbed_run(mode, opts, clip, server_cores, switch))
                if opts.save is not None:
                    report.save(opts.save, results[-1])
    except KeyboardInterrupt:
        progress("interrupted; the report below has the runs that finished")
        if results:
            print(report.render(results, header(opts, clip, server_cores)))
        sys.exit(130)
    print(report.render(results, header(opts, clip, server_cores)))


if __name__ == "__main__":
    main()
