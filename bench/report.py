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
    settings: str = ""  # resolution, clip  # the generator's event loop, late wake-ups

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
        "p50 / p95 ms (n) | burned number, decoded: p50 / p95 ms | checks |",
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


def added_latency(table: Sequence[Row]) -> list[tuple[int, str, float, float]]:
    """(sessions, measure, p50, p95) of hub minus direct, where both ran at the same count."""
    out = []
    for hub in _find(table, "hub"):
        for direct in _find(table, "direct", hub.sessions):
            for name, label in (("hash_ms", "every frame, by hash"), ("number_ms", "burned number")):
                p50 = hub.latency(name, 50) - direct.latency(name, 50)
                p95 = hub.latency(name, 95) - direct.latency(name, 95)
                out.append((hub.sessions, label, p50, p95))
    return out


def added_table(table: Sequence[Row]) -> str:
    found = added_latency(table)
    if not found:
        return "Hub-added latency: run `hub` and `direct` at the same session count to measure it."
    lines = ["| sessions | measure | hub − direct p50 ms | hub − direct p95 ms |", "|---|---|---|---|"]
    lines += [f"| {n} | {label} | {_f(p50)} | {_f(p95)} |" for n, label, p50, p95 in found]
    return "\n".join(lines)


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "**not met**")


def targets(table: Sequence[Row]) -> str:
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    hubs = _find(table, "hub")
    per = [(r.sessions, r.med("server_core") / r.sessions) for r in hubs]
    lines.append(
        f"| hub ≤ {TARGET_CORE_PER_SESSION} core per session | "
        + (", ".join(f"{c:.3f} at {n}" for n, c in per) or "–")
        + f" | {_verdict(all(c <= TARGET_CORE_PER_SESSION for _, c in per) if per else None)} |"
    )
    ratio: float | None = None
    hub1, relay1 = _find(table, "hub", 1), _find(table, "relay", 1)
    if hub1 and relay1:
        ratio = relay1[0].med("server_core") / hub1[0].med("server_core")
    lines.append(
        f"| hub ≥ {TARGET_RELAY_RATIO:g}x fewer core-seconds than the relay at 1 session | "
        + (f"{ratio:.1f}x" if ratio is not None else "–")
        + f" | {_verdict(None if ratio is None else ratio >= TARGET_RELAY_RATIO)} |"
    )
    big = [r for r in hubs if r.sessions >= TARGET_SESSIONS]
    lines.append(
        f"| ≥ {TARGET_SESSIONS} concurrent hub sessions with ≤ {TARGET_LOST_PCT:g} % frames lost | "
        + (", ".join(f"{_f(r.med('lost_pct'), 2)} % lost at {r.sessions}" for r in big) or "–")
        + f" | {_verdict(all(r.med('lost_pct') <= TARGET_LOST_PCT for r in big) if big else None)} |"
    )
    added = [(n, p95) for n, label, _, p95 in added_latency(table) if label.startswith("every")]
    lines.append(
        f"| hub-added latency p95 ≤ {TARGET_ADDED_P95_MS:g} ms (every frame, by hash) | "
        + (", ".join(f"{p95:.1f} ms at {n}" for n, p95 in added) or "–")
        + f" | {_verdict(all(p <= TARGET_ADDED_P95_MS for _, p in added) if added else None)} |"
    )
    return "\n".join(lines)


def render(results: Sequence[RunResult], header: str) -> str:
    table = rows(results)
    settings = sorted({r.settings for r in results if r.settings})
    return "\n\n".join(
        [
            header,
            *(["Video: " + "; ".join(settings) + "."] if len(settings) > 1 or "Clip:" not in header else []),
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
