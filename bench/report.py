"""Markdown tables of the session benchmark, and the targets it is held to."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analysis import percentiles

TARGET_CORE_PER_SESSION = 0.06
TARGET_RELAY_RATIO = 8.0
TARGET_SESSIONS = 16
TARGET_LOST_PCT = 1.0
TARGET_ADDED_P95_MS = 10.0


@dataclass
class RunResult:
    """One measured window of one mode."""

    mode: str  # "hub", "relay", "direct"; "hub OPTIONS" for a hub run with extra server options
    sessions: int
    wall_s: float
    server_cpu_s: float | None  # None: no server (direct)
    generator_cpu_s: float
    decode_cpu_s: float
    sent: int = 0
    delivered: int = 0
    unmatched: int = 0
    hash_ms: list[float] = field(default_factory=list)
    number_ms: list[float] = field(default_factory=list)
    decoded_ms: list[float] = field(default_factory=list)
    checked: int = 0  # frames identified both by hash and by burned number
    agreed: int = 0
    decoder_skipped: int = 0
    server_warnings: int = 0
    machine_cpu_s: float = 0.0  # every process on the machine, to reveal outside load
    server_idle_core: float = math.nan  # the server alone, before anyone connected
    server_udp_drops: int = 0  # datagrams the kernel dropped on full sockets during the window
    generator_udp_drops: int = 0
    loop_lag_ms: list[float] = field(default_factory=list)
    settings: str = ""  # resolution, frame rate, clip kind
    clip_mbps: float = math.nan  # the generator's event loop, late wake-ups

    @property
    def server_core(self) -> float:
        return math.nan if self.server_cpu_s is None else self.server_cpu_s / self.wall_s

    @property
    def generator_core(self) -> float:
        return self.generator_cpu_s / self.wall_s

    @property
    def decode_core(self) -> float:
        return self.decode_cpu_s / self.wall_s

    @property
    def other_core(self) -> float:
        """Cores busy with anything but the server and this process (should be near 0)."""
        busy = self.machine_cpu_s - (self.server_cpu_s or 0.0) - self.generator_cpu_s
        return max(0.0, busy / self.wall_s)  # accounting noise can make it slightly negative

    @property
    def lost_pct(self) -> float:
        return 100.0 * (self.sent - self.delivered) / self.sent if self.sent else math.nan


def _median(values: Sequence[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


@dataclass
class Row:
    """A mode at a session count: medians over the repeated runs."""

    mode: str
    sessions: int
    runs: list[RunResult]

    def med(self, name: str) -> float:
        return _median([float(getattr(r, name)) for r in self.runs])

    def latency(self, name: str, q: float) -> float:
        return _median([percentiles(getattr(r, name), q)[0] for r in self.runs])

    def count(self, name: str) -> int:
        return sum(int(getattr(r, name)) for r in self.runs)


def rows(results: Sequence[RunResult]) -> list[Row]:
    grouped: dict[tuple[str, int], list[RunResult]] = {}
    for r in results:
        grouped.setdefault((r.mode, r.sessions), []).append(r)
    return [Row(mode, n, runs) for (mode, n), runs in grouped.items()]


def _f(value: float, digits: int = 1) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _pair(row: Row, name: str) -> str:
    n = sum(len(getattr(r, name)) for r in row.runs)
    if not n:
        return "–"
    return f"{_f(row.latency(name, 50))} / {_f(row.latency(name, 95))} ({n})"


def load_table(table: Sequence[Row]) -> str:
    lines = [
        "| mode | sessions | server core/session | server core total (idle) | generator core/session "
        "(of which decode) | frames sent | delivered | lost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        n = row.sessions
        server = row.med("server_core")
        gen = row.med("generator_core") / n
        dec = row.med("decode_core") / n
        idle = row.med("server_idle_core")
        lines.append(
            f"| {row.mode} | {n} | {_f(server / n, 3)} | {_f(server, 2)} ({_f(idle, 3)}) "
            f"| {_f(gen, 3)} ({_f(dec, 3)}) "
            f"| {row.count('sent')} | {row.count('delivered')} | {_f(row.med('lost_pct'), 2)} % |"
        )
    return "\n".join(lines)


def latency_table(table: Sequence[Row]) -> str:
    lines = [
        "| mode | sessions | every frame, by hash: p50 / p95 ms (n) | burned number, arrival: "
        "p50 / p95 ms (n) | burned number, decoded: p50 / p95 ms (n) | checks |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        checks = []
        if row.count("checked"):
            checks.append(f"hash = number for {row.count('agreed')}/{row.count('checked')}")
        if row.count("unmatched"):
            checks.append(f"{row.count('unmatched')} unidentified")
        if row.count("decoder_skipped"):
            checks.append(f"{row.count('decoder_skipped')} not decoded")
        for side in ("server", "generator"):
            if row.count(f"{side}_udp_drops"):
                checks.append(
                    f"{row.count(f'{side}_udp_drops')} UDP datagrams dropped by the {side}'s kernel"
                )
        lag = row.latency("loop_lag_ms", 99)
        checks.append(f"generator loop lag p99 {_f(lag)} ms")
        checks.append(f"other load {_f(row.med('other_core'), 2)} core")
        if row.count("server_warnings"):
            checks.append(f"{row.count('server_warnings')} server warnings")
        lines.append(
            f"| {row.mode} | {row.sessions} | {_pair(row, 'hash_ms')} | {_pair(row, 'number_ms')} "
            f"| {_pair(row, 'decoded_ms')} | {'; '.join(checks) or 'ok'} |"
        )
    return "\n".join(lines)


def _find(table: Sequence[Row], mode: str, sessions: int | None = None) -> list[Row]:
    return [r for r in table if r.mode == mode and (sessions is None or r.sessions == sessions)]


def hub_variants(table: Sequence[Row]) -> list[str]:
    """ "hub" first, then hub runs with extra server options."""
    return sorted({r.mode for r in table if r.mode.split(" ")[0] == "hub"}, key=lambda m: (m != "hub", m))


def added_latency(table: Sequence[Row], hub_mode: str) -> list[tuple[int, str, float, float]]:
    """(sessions, measure, p50, p95) of a hub minus direct, where both ran at the same count."""
    out = []
    for hub in _find(table, hub_mode):
        for direct in _find(table, "direct", hub.sessions):
            for name, label in (("hash_ms", "every frame, by hash"), ("number_ms", "burned number")):
                p50 = hub.latency(name, 50) - direct.latency(name, 50)
                p95 = hub.latency(name, 95) - direct.latency(name, 95)
                out.append((hub.sessions, label, p50, p95))
    return out


def added_table(table: Sequence[Row]) -> str:
    lines = ["| mode | sessions | measure | − direct p50 ms | − direct p95 ms |", "|---|---|---|---|---|"]
    for mode in hub_variants(table):
        found = added_latency(table, mode)
        lines += [f"| {mode} | {n} | {label} | {_f(p50)} | {_f(p95)} |" for n, label, p50, p95 in found]
    if len(lines) == 2:
        return "Run `hub` and `direct` at the same session count to measure it."
    return "\n".join(lines)


def _verdict(checks: Sequence[tuple[int, bool]]) -> str:
    """Met, not met, or met at some session counts only."""
    if not checks:
        return "not measured"
    if all(ok for _, ok in checks):
        return "met"
    if not any(ok for _, ok in checks):
        return "**not met**"
    met = ", ".join(str(n) for n, ok in checks if ok)
    missed = ", ".join(str(n) for n, ok in checks if not ok)
    return f"**met at {met} sessions, not at {missed}**"


def _target_rows(table: Sequence[Row], mode: str) -> list[str]:
    hubs = _find(table, mode)
    per = [(r.sessions, r.med("server_core") / r.sessions) for r in hubs]
    ratios = [
        (1, relay.med("server_core") / hub.med("server_core"))
        for hub in _find(table, mode, 1)
        for relay in _find(table, "relay", 1)
    ]
    big = [(r.sessions, r.med("lost_pct")) for r in hubs if r.sessions >= TARGET_SESSIONS]
    added = [
        (n, p95)
        for n, label, _, p95 in added_latency(table, mode)
        if label.startswith("every") and n <= TARGET_SESSIONS
    ]
    rows = [
        (
            f"≤ {TARGET_CORE_PER_SESSION} core per session",
            ", ".join(f"{c:.3f} at {n}" for n, c in per),
            [(n, c <= TARGET_CORE_PER_SESSION) for n, c in per],
        ),
        (
            f"≥ {TARGET_RELAY_RATIO:g}x fewer core-seconds than the relay at 1 session",
            ", ".join(f"{x:.1f}x" for _, x in ratios),
            [(n, x >= TARGET_RELAY_RATIO) for n, x in ratios],
        ),
        (
            f"≥ {TARGET_SESSIONS} concurrent sessions with ≤ {TARGET_LOST_PCT:g} % frames lost",
            ", ".join(f"{_f(lost, 2)} % lost at {n}" for n, lost in big),
            [(n, lost <= TARGET_LOST_PCT) for n, lost in big],
        ),
        (
            f"added latency p95 ≤ {TARGET_ADDED_P95_MS:g} ms up to {TARGET_SESSIONS} sessions (by hash)",
            ", ".join(f"{p95:.1f} ms at {n}" for n, p95 in added),
            [(n, p95 <= TARGET_ADDED_P95_MS) for n, p95 in added],
        ),
    ]
    return [f"| {mode}: {what} | {measured or '–'} | {_verdict(checks)} |" for what, measured, checks in rows]


def targets(table: Sequence[Row]) -> str:
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    for mode in hub_variants(table) or ["hub"]:
        lines += _target_rows(table, mode)
    return "\n".join(lines)


def video_line(results: Sequence[RunResult]) -> str:
    kinds: dict[str, list[float]] = {}
    for r in results:
        kinds.setdefault(r.settings or "unknown", []).append(r.clip_mbps)
    parts = [f"{k} at {min(v):.2f}–{max(v):.2f} Mbit/s" for k, v in kinds.items()]
    return "Video: " + "; ".join(parts) + "."


def render(results: Sequence[RunResult], header: str) -> str:
    table = rows(results)
    return "\n\n".join(
        [
            header,
            *([] if "Clip:" in header else [video_line(results)]),
            "### Load and delivery",
            load_table(table),
            "### Latency: phone sends a frame → the auditor has all of it (same clock)",
            latency_table(table),
            "### Hub-added latency",
            added_table(table),
            "### Targets",
            targets(table),
        ]
    )


def save(path: Path, result: RunResult) -> None:
    """Append one run to a JSON-lines file, so that reports can combine several invocations."""
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(dataclasses.asdict(result)) + "\n")


def load(paths: Iterable[Path]) -> list[RunResult]:
    fields = {f.name for f in dataclasses.fields(RunResult)}
    results = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                results.append(RunResult(**{k: v for k, v in data.items() if k in fields}))
    return results
