"""A recorder killed with SIGKILL leaves every closed segment complete and verifiable.

Run as ``python -m tests.test_recorder_crash DIR``, this module is the process that gets
killed: it records an endless phone stream into DIR in 1 s segments and appends each
closed segment's info to DIR/closed.jsonl.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from recorder import SegmentInfo, SegmentWriter
from server.simcam import encode_clip
from tests.test_recorder_segments import (
    check_index_matches_file,
    check_packets_match_index,
    decoded_codes,
    iter_frames,
    opus_packets,
)

ROOT = Path(__file__).resolve().parent.parent
CLOSED_LIST = "closed.jsonl"


def record_until_killed(directory: Path) -> None:
    clip = encode_clip(frames=90, width=640, height=360, gop=30)
    opus = opus_packets(150)
    closed = (directory / CLOSED_LIST).open("a")

    def on_closed(info: SegmentInfo) -> None:
        closed.write(json.dumps(dataclasses.asdict(info), default=str) + "\n")
        closed.flush()

    writer = SegmentWriter(directory / "segments", max_segment_seconds=1.0, on_closed=on_closed)
    writer.start()
    for frame in iter_frames(clip, opus):
        writer.write(frame)
        if frame.kind == "video":
            time.sleep(0.004)  # about 8x real time, so the queue never fills


def closed_infos(directory: Path) -> list[SegmentInfo]:
    path = directory / CLOSED_LIST
    if not path.exists():
        return []
    infos = []
    for line in path.read_text().splitlines():
        fields = json.loads(line)
        fields["path"], fields["index_path"] = Path(fields["path"]), Path(fields["index_path"])
        infos.append(SegmentInfo(**fields))
    return infos


def test_sigkill_leaves_every_closed_segment_complete(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-m", "tests.test_recorder_crash", str(tmp_path)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while len(closed_infos(tmp_path)) < 4:
            assert child.poll() is None, "recorder process died on its own"
            assert time.monotonic() < deadline, "no segments closed in time"
            time.sleep(0.05)
        time.sleep(0.3)  # well into the next segment
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    listed = closed_infos(tmp_path)
    segments = sorted((tmp_path / "segments").glob("segment-*.webm"))
    assert len(segments) > len(listed) >= 4
    assert {info.path for info in listed} <= set(segments[:-1])
    by_path = {info.path: info for info in listed}
    for path in segments[:-1]:  # only the last one was open when the process died
        index_path = index_of(path)
        check_packets_match_index(path, index_path)
        if path in by_path:  # else killed between closing it and reporting it
            check_index_matches_file(by_path[path])
        codes = decoded_codes(path)
        assert len(codes) == sum('"kind":"video"' in line for line in index_path.read_text().splitlines())
        assert codes[0] % 30 == 0
        assert all((b - a) % 90 == 1 for a, b in itertools.pairwise(codes))
    # The open segment's index lost at most what was not yet flushed: every line is whole.
    open_lines = index_of(segments[-1]).read_text().splitlines()
    assert all(json.loads(line)["kind"] in ("video", "audio") for line in open_lines)


def index_of(segment: Path) -> Path:
    return segment.with_name(segment.name.split(".")[0] + ".index.jsonl")


if __name__ == "__main__":
    record_until_killed(Path(sys.argv[1]))
