"""What probing a facility's video answer costs: server.capa_video.probe on real clips.

    .venv/bin/python bench/capa_video.py [--repeat 5]

Encodes, in memory, H.264 MP4 clips (the phone camera's usual file) and a VP8 WebM clip (a
browser's MediaRecorder: no duration in the container, so the probe reads every packet) at
phone resolutions, then times the probe (open, codec check, duration, one decoded frame)
``--repeat`` times each and prints a Markdown table of medians. Clips are synthetic
(moving gradients), so their sizes are smaller than a real camera's at the same length.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import time

import av
import numpy as np

from server import capa_video

CASES = [
    ("H.264 MP4", "libx264", "mp4", 1280, 720, 30, 10.0),
    ("H.264 MP4", "libx264", "mp4", 1280, 720, 30, 30.0),
    ("H.264 MP4", "libx264", "mp4", 1920, 1080, 30, 30.0),
    ("VP8 WebM", "libvpx", "webm", 1280, 720, 30, 30.0),
]


def clip(codec: str, container: str, width: int, height: int, fps: int, seconds: float) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as box:
        stream = box.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        ramp = np.linspace(0, 255, width, dtype=np.float32)
        for n in range(round(seconds * fps)):
            row = ((ramp + n * 4) % 256).astype(np.uint8)
            image = np.repeat(np.repeat(row[None, :, None], height, 0), 3, 2)
            box.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        box.mux(stream.encode(None))
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print("| clip | resolution | length | size | probe (median) |")
    print("|---|---|---|---|---|")
    for name, codec, container, width, height, fps, seconds in CASES:
        print(f"encoding {name} {width}x{height} {seconds:.0f} s…", file=sys.stderr)
        data = clip(codec, container, width, height, fps, seconds)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            info = asyncio.run(capa_video.probe(data))
            times.append(time.perf_counter() - start)
        assert abs(info.duration_ms - seconds * 1000) < 500, info
        size, median_ms = f"{len(data) / 1e6:.1f} MB", statistics.median(times) * 1000
        print(f"| {name} | {width}x{height} | {seconds:.0f} s | {size} | {median_ms:.0f} ms |")


if __name__ == "__main__":
    main()
