"""CPU cost of writing segments cluster by cluster, against the earlier container options.

Writes 60 s of the 720p, ~2 Mbit/s textured clip with Opus into 10 s segments (muxing,
per-frame SHA-256 and index lines: the segment writer's work) and reports the CPU time
(user + system) per option set, median of 5 runs. From the checkout:
``PYTHONPATH=. .venv/bin/python bench/segment_flush.py``; results in docs/benchmarks.md.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import recorder.container as container
from recorder.container import vp8_params
from recorder.timeline import AUDIO_CLOCK, VIDEO_CLOCK, Timeline
from tests.test_recorder_segments import Frame, audio_frames, by_arrival, opus_packets, video_frames

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clip import textured_clip

BEFORE = {"cluster_time_limit": "1000", "max_interleave_delta": "1000000"}
NOW = dict(container.CONTAINER_OPTIONS)
SEGMENT_TICKS = 10 * VIDEO_CLOCK


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def write_segments(frames: list[Frame], directory: Path, options: dict[str, str]) -> float:
    """CPU seconds to write ``frames`` into 10 s segments with ``options``."""
    container.CONTAINER_OPTIONS = options
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    timeline, segment, origin, seq = Timeline(), None, 0, 0
    start = cpu_seconds()
    for frame in frames:
        ticks = timeline.place(frame)
        if frame.kind == "video" and frame.keyframe and (segment is None or ticks - origin >= SEGMENT_TICKS):
            if segment is not None:
                segment.close()
            params = vp8_params(frame.data)
            assert params is not None
            seq += 1
            segment, origin = container.SegmentFile(directory, seq, params, frame), ticks
        if segment is not None:
            video = frame.kind == "video"
            segment.write(frame, ticks - origin if video else ticks - origin * AUDIO_CLOCK // VIDEO_CLOCK)
    if segment is not None:
        segment.close()
    return cpu_seconds() - start


def main() -> None:
    clip = textured_clip(300, 1280, 720, 30, 30, 2_000_000)
    t0 = 10**18
    audio = audio_frames(opus_packets(3000), rtp0=0, t0=t0)
    frames = by_arrival(video_frames(clip, count=1800, t0=t0), audio)
    runs: dict[str, list[float]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(5):
            runs["before"].append(write_segments(frames, Path(scratch) / "s", BEFORE))
            runs["now"].append(write_segments(frames, Path(scratch) / "s", NOW))
    for name, seconds in runs.items():
        median = statistics.median(seconds)
        print(f"{name}: {median:.3f} s CPU per 60 s session = {median / 60:.4f} core ({seconds})")


if __name__ == "__main__":
    main()
