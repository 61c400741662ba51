"""Server processes under test: start them, pin them to a core, read their CPU time, stop them."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
# ``python -m server`` runs server.cli:main, the ``virtual-audit`` entry point, with the
# repository first on sys.path: the checkout under test, whatever the venv's install says.
VIRTUAL_AUDIT = [sys.executable, "-m", "server"]
EMAIL = "bench@virtual-audit.example"
PASSWORD = "bench-auditor-password"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerFailed(RuntimeError):
    """A server under test did not start, or died."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process (all its threads), from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent not idle, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS  # up to steal; guest time is already in user


def wait_for_quiet(max_wait_s: float, busy_below: float = 0.15, sample_s: float = 2.0) -> float:
    """Wait (at most ``max_wait_s``) until the machine is nearly idle; return the last load seen."""
    deadline = time.monotonic() + max_wait_s
    while True:
        before = machine_busy_seconds()
        time.sleep(sample_s)
        load = (machine_busy_seconds() - before) / sample_s
        if load < busy_below or time.monotonic() >= deadline:
            return load


def own_cpu_seconds() -> float:
    """CPU time of this process (every thread) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def udp_drops(pid: int) -> int:
    """Datagrams the kernel dropped because the process's UDP sockets were full (/proc/net/udp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 12 and fields[9] in inodes:
                drops += int(fields[-1])
    return drops


def pin(pid: int, cores: set[int]) -> None:
    """Pin every thread of ``pid`` (threads it starts later inherit the main thread's mask)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cores)


def split_cores(pin_core: int) -> tuple[set[int] | None, set[int] | None]:
    """(server cores, generator cores) for ``--pin-core``; -1 pins nothing."""
    available = os.sched_getaffinity(0)
    if pin_core < 0:
        return None, None
    if pin_core not in available:
        raise SystemExit(f"--pin-core {pin_core}: this process may only use cores {sorted(available)}")
    rest = available - {pin_core}
    return {pin_core}, rest or None


@dataclass
class ServerProcess:
    """A server started by the benchmark; stopped in ``finally`` by whoever started it."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    cores: set[int] | None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        if self.proc.poll() is not None:
            raise ServerFailed(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
        return process_cpu_seconds(self.proc.pid)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_lines(self, *levels: str) -> list[str]:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text.splitlines() if any(f" {lvl} " in line for lvl in levels)]

    def wait_ready(self, probe: str, headers: dict[str, str] | None = None) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"{self.name} exited early: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + probe, headers=headers, timeout=1.0).status_code == 200:
                    if self.cores is not None:
                        pin(self.proc.pid, self.cores)  # again: threads started while booting
                    return
            time.sleep(0.1)
        raise ServerFailed(f"{self.name} not ready after {READY_TIMEOUT_S} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)


def _spawn(name: str, argv: list[str], workdir: Path, cores: set[int] | None, port: int) -> ServerProcess:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO_DIR
        )
    if cores is not None:
        pin(proc.pid, cores)
    return ServerProcess(name, proc, port, log_path, cores)


def _cli(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    argv = [*VIRTUAL_AUDIT, "--data-dir", str(data_dir), *args]
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=60, check=False, cwd=REPO_DIR
    )
    if done.returncode != 0:
        raise ServerFailed(f"{' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="va-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def hub_server(
    work: Path, cores: set[int] | None, options: Sequence[str] = ()
) -> Iterator[tuple[ServerProcess, str]]:
    """The product: ``virtual-audit serve`` with a fresh data dir; yields it and an API token."""
    data_dir = work / "data"
    _cli(data_dir, "user", "create", "--email", EMAIL, "--name", "Bench Auditor", stdin=PASSWORD + "\n")
    token = _cli(data_dir, "user", "token", "--email", EMAIL).strip().splitlines()[-1]
    port = free_port()
    argv = [*VIRTUAL_AUDIT, "--data-dir", str(data_dir), "serve"]
    argv += ["--port", str(port), "--log-level", "warning", *options]
    server = _spawn("hub", argv, work, cores, port)
    try:
        server.wait_ready("/api/audits", {"Authorization": f"Bearer {token}"})
        yield server, token
    finally:
        server.stop()


@contextlib.contextmanager
def relay_server(work: Path, cores: set[int] | None) -> Iterator[ServerProcess]:
    """The decode + re-encode baseline, bench/relay_server.py."""
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "relay_server.py"), "--port", str(port)]
    server = _spawn("relay", argv, work, cores, port)
    try:
        server.wait_ready("/health")
        yield server
    finally:
        server.stop()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> str:
    return (
        f"Machine: {os.cpu_count()} cores ({cpu_model()}); Python {platform.python_version()}, "
        f"aiortc {version('aiortc')}, PyAV {version('av')}"
    )
