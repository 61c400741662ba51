"""A recorder killed with SIGKILL leaves every closed segment complete and verifiable.

Run as ``python -m tests.test_recorder_crash DIR``, this module is the process that gets
killed: it records an endless phone stream into DIR in 2 s segments and appends each
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

import pytest

from recorder import SegmentInfo, SegmentWriter
from recorder.recovery import NothingToRecover, read_index, recover_segment
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

    writer = SegmentWriter(directory / "segments", max_segment_seconds=2.0, on_closed=on_closed)
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


def open_video_lines(directory: Path, after: int) -> int:
    """Video frames listed by the index of the newest segment if it is numbered above ``after``."""
    segments = sorted(directory.glob("segment-*.webm"))
    if len(segments) <= after:
        return 0
    lines = index_of(segments[-1]).read_bytes().split(b"\n")
    return sum(b'"kind":"video"' in line and line.endswith(b"}") for line in lines)


@pytest.mark.parametrize("kill_at", [10, 30, 55])  # video frames into the open 2 s segment
def test_sigkill_leaves_every_closed_segment_complete(tmp_path: Path, kill_at: int) -> None:
    child = subprocess.Popen([sys.executable, "-m", "tests.test_recorder_crash", str(tmp_path)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while len(closed_infos(tmp_path)) < 4 or open_video_lines(tmp_path / "segments", 4) < kill_at:
            assert child.poll() is None, "recorder process died on its own"
            assert time.monotonic() < deadline, "no segments closed in time"
            time.sleep(0.005)
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
    # The open segment's index lost at most what was not yet flushed: every line is whole
    # but perhaps the last.
    open_lines = index_of(segments[-1]).read_text().splitlines()
    assert all(json.loads(line)["kind"] in ("video", "audio") for line in open_lines[:-1])
    check_recovers(segments[-1], tmp_path / "quarantine")


def check_recovers(segment: Path, quarantine: Path) -> None:
    """The open segment is rebuilt from its intact start: all but (at most) its last second."""
    listed = read_index(index_of(segment))
    original = segment.read_bytes()
    try:
        recovered = recover_segment(segment, quarantine)
    except NothingToRecover:  # allowed only when what was lost is less than a second
        assert listed[-1]["arrival_ns"] - listed[0]["arrival_ns"] < 1_000_000_000
        return
    info = recovered.info
    check_packets_match_index(info.path, info.index_path)
    assert read_index(info.index_path) == listed[: info.video_frames + info.audio_frames]
    codes = decoded_codes(segment)
    assert len(codes) == info.video_frames >= sum(line["kind"] == "video" for line in listed) - 30
    assert all((b - a) % 90 == 1 for a, b in itertools.pairwise(codes))
    assert recovered.lost_video_frames + info.video_frames == sum(line["kind"] == "video" for line in listed)
    assert recovered.stopped_ns - info.end_ns <= 1_000_000_000
    assert (quarantine / segment.name).read_bytes() == original  # the leftover is kept, not deleted


def index_of(segment: Path) -> Path:
    return segment.with_name(segment.name.split(".")[0] + ".index.jsonl")


if __name__ == "__main__":
    record_until_killed(Path(sys.argv[1]))
