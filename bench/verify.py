"""Verification benchmark: verify_package over a large export against sha256sum on the same files.

    .venv/bin/python bench/verify.py [--size-mb 1100] [--segment-mb 100] [--stills 300] [--repeat 3]
        [--dir /tmp]

Builds, in a temporary directory under ``--dir``, an export package of about ``--size-mb``
MB: fake segments of pseudo-random bytes (incompressible, like video), JPEG stills, their
segment indexes, a ledger naming all of them plus audit events, and a signed tree head
every 50 entries. It extracts the package's evidence files next to it, then times, in
turn and ``--repeat`` times each: ``verify_package`` on the zip, ``sha256sum`` over the
extracted files, and ``openssl dgst -sha256`` over them when openssl is installed (a
baseline with the SHA extensions of the CPU, which sha256sum may not use). All read from
the page cache after a first untimed pass. Figures are medians; MB/s counts the evidence
bytes (10^6 bytes per MB). The temporary directory is removed at the end. The Markdown
table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.ledger import Ledger, SignedTreeHead, public_key_pem, utc_ms
from recorder.package import CHUNK, PackageFile, write_package
from recorder.stills import encode_still
from recorder.verify import verify_package

AUDIT = "bench-audit"
HEAD_EVERY = 50
TARGET_RATIO = 0.70


@dataclass(frozen=True)
class Options:
    size_mb: int
    segment_mb: int
    stills: int
    repeat: int
    directory: Path


def parse_args(argv: Sequence[str] | None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--size-mb", type=int, default=1100, help="evidence bytes to build, in MB (default 1100)")
    p.add_argument("--segment-mb", type=int, default=100, help="size of each fake segment (default 100)")
    p.add_argument("--stills", type=int, default=300, help="JPEG stills in the package (default 300)")
    p.add_argument(
        "--repeat", type=int, default=3, help="timed runs per tool; figures are medians (default 3)"
    )
    p.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()), help="where to build (default /tmp)"
    )
    a = p.parse_args(argv)
    return Options(a.size_mb, a.segment_mb, a.stills, a.repeat, a.dir)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fake_segment(path: Path, size: int, seed: int) -> tuple[str, int]:
    """Write ``size`` pseudo-random bytes to ``path``; return their SHA-256 and size."""
    rng = np.random.default_rng(seed)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            chunk = rng.bytes(min(left, 16 * CHUNK))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest(), size


class Builder:
    """A ledger and the files it names, grown the way an audit grows them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = Ed25519PrivateKey.generate()
        self.ledger = Ledger(AUDIT)
        self.files: list[PackageFile] = []
        self.heads: list[SignedTreeHead] = []
        self.segments: list[Path] = []
        self.clock = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)

    def append(self, entry: dict[str, object]) -> None:
        self.clock += dt.timedelta(seconds=2)
        self.ledger.append({"at": utc_ms(self.clock), **entry})
        if self.ledger.size % HEAD_EVERY == 0:
            self.sign()

    def sign(self) -> None:
        if not self.heads or self.heads[-1].head.size != self.ledger.size:
            stamp = int(self.clock.timestamp() * 1000)
            self.heads.append(self.ledger.sign_head(self.key, stamp))

    def still(self, n: int, picture: npt.NDArray[np.uint8]) -> None:
        jpeg = encode_still(np.roll(picture, n * 7, axis=1)).jpeg
        sha, path = hashlib.sha256(jpeg).hexdigest(), f"evidence/stills/{n:08x}.jpg"
        height, width = picture.shape[:2]
        fields = {
            "evidence_id": f"{n:08x}",
            "sha256": sha,
            "size": len(jpeg),
            "width": width,
            "height": height,
        }
        self.append(
            {"type": "still", **fields, "captured_at": utc_ms(self.clock), "checkpoint": None, "path": path}
        )
        self.files.append(PackageFile(path, jpeg, sha, len(jpeg)))

    def segment(self, size: int) -> None:
        n = len(self.segments)
        progress(f"segment {n + 1}: {size / 1e6:.0f} MB")
        path = self.directory / f"segment-{n:06d}.webm"
        self.segments.append(path)
        sha, size = fake_segment(path, size, seed=n)
        index = b"".join(b'{"n":%d,"kind":"video","size":4000}\n' % i for i in range(3000))
        index_sha = hashlib.sha256(index).hexdigest()
        names = {
            "path": f"recording/segment-{n:06d}.webm",
            "index_path": f"recording/segment-{n:06d}.index.jsonl",
        }
        start = int(self.clock.timestamp()) * 1_000_000_000
        self.append(
            {"type": "segment", "seq_no": n, "sha256": sha, "size": size, "index_sha256": index_sha, **names}
            | {"start_ns": start, "end_ns": start + 100 * 10**9, "video_frames": 3000, "audio_frames": 5000}
            | {"codec": "VP8"}
        )
        self.files.append(PackageFile(names["path"], path, sha, size))
        self.files.append(PackageFile(names["index_path"], index, index_sha, len(index)))

    def event(self, kind: str, **data: object) -> None:
        self.append({"type": "event", "kind": kind, "actor": "auditor:bench", "data": data})


def build(opts: Options, work: Path) -> tuple[Path, int, float]:
    """Write the package; return its path, the evidence bytes in it and the seconds write_package took."""
    builder = Builder(work)
    # a smooth texture: a 720p JPEG of it weighs ~100-200 kB, like a real still
    noise = np.random.default_rng(1).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    picture = np.asarray(cv2.resize(noise, (1280, 720), interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
    segments = max(1, opts.size_mb // opts.segment_mb)
    every = max(1, opts.stills // segments)
    builder.event("join", role="auditor")
    for n in range(opts.stills):
        builder.still(n, picture)
        builder.event("note", text=f"still {n}")
        if n % every == every - 1 and len(builder.segments) < segments:
            builder.segment(opts.segment_mb * 10**6)
    while len(builder.segments) < segments:
        builder.segment(opts.segment_mb * 10**6)
    builder.event("result", checkpoint="doors", result="meets")
    builder.event("complete", outcome={"result": "pass"})
    builder.sign()
    out = work / "package.zip"
    started = time.perf_counter()
    write_package(
        out,
        manifest={"audit": {"id": AUDIT}, "results": {"doors": "meets"}, "outcome": {"result": "pass"}},
        files=builder.files,
        entries=[builder.ledger.entry_bytes(i) for i in range(builder.ledger.size)],
        tree_heads=builder.heads,
        public_key_pem=public_key_pem(builder.key),
    )
    seconds = time.perf_counter() - started
    progress(f"wrote {out.stat().st_size / 1e6:.0f} MB in {seconds:.1f} s")
    for path in builder.segments:
        path.unlink()  # only the package and its extracted copy stay on disk
    return out, sum(f.size for f in builder.files), seconds


def timed(run: Callable[[], None], repeat: int) -> float:
    run()  # untimed: brings the files into the page cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_verify(package: Path) -> None:
    report = verify_package(package)
    if not report.ok:
        raise SystemExit(f"the benchmark package does not verify: {report.problems[:3]}")


def run_command(command: list[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main(argv: Sequence[str] | None = None) -> None:
    opts = parse_args(argv)
    need = 2.3 * opts.size_mb * 10**6
    if shutil.disk_usage(opts.directory).free < need:
        raise SystemExit(f"{opts.directory}: needs {need / 1e9:.1f} GB free")
    work = Path(tempfile.mkdtemp(prefix="va-bench-verify-", dir=opts.directory))
    try:
        package, evidence, write_s = build(opts, work)
        with zipfile.ZipFile(package) as zf:
            names = [n for n in zf.namelist() if n.startswith(("evidence/", "recording/"))]
            zf.extractall(work / "extracted", names)
        files = [str(work / "extracted" / n) for n in names]
        rows = [("verify_package (zip)", timed(lambda: run_verify(package), opts.repeat))]
        progress("verify_package done")
        rows.append(
            ("sha256sum (extracted files)", timed(lambda: run_command(["sha256sum", *files]), opts.repeat))
        )
        if shutil.which("openssl"):
            command = ["openssl", "dgst", "-sha256", *files]
            rows.append(
                ("openssl dgst -sha256 (extracted files)", timed(lambda: run_command(command), opts.repeat))
            )
        print(render(rows, evidence, len(files), package.stat().st_size, write_s))
    finally:
        shutil.rmtree(work)


def render(
    rows: list[tuple[str, float]], evidence: int, count: int, package_size: int, write_s: float
) -> str:
    baseline = rows[1][1]
    lines = [
        f"Evidence: {evidence / 1e6:.0f} MB in {count} files; package {package_size / 1e6:.0f} MB, "
        f"written by write_package in {write_s:.1f} s ({evidence / 1e6 / write_s:.0f} MB/s, cold). "
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}. Medians of timed runs.",
        "",
        "| tool | seconds | MB/s | throughput vs sha256sum |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in rows:
        lines.append(
            f"| {name} | {seconds:.2f} | {evidence / 1e6 / seconds:.0f} | {baseline / seconds:.0%} |"
        )
    ratio = baseline / rows[0][1]
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    lines += ["", f"Target: verify_package at >= {TARGET_RATIO:.0%} of sha256sum's throughput: {verdict}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
