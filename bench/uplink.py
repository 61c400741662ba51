"""Thin uplinks: what the auditor receives when the phone's uplink is 1 Mbit/s or 256 kbit/s.

The phone is a headless Chromium in its own network namespace (tests/netbed.py) whose
egress is a token bucket (``tc tbf``, 300 ms queue); its fake camera plays a clip that
costs an encoder what a walking phone camera costs (a detailed panning scene with sensor
noise, 640×360 at 30 fps, ~1.3 Mbit/s unconstrained). The auditor is a Chromium in the
root namespace. For each link the bench shapes it, lets the encoder settle for
``SETTLE_S``, then samples the console's own ``getStats()`` for ``WINDOWS`` windows of
``WINDOW_S``: frame rate, the picture's height, the longest freeze (no new decoded frame),
audio packets per second, the longest audio gap and the fraction of played audio the
jitter buffer concealed. It also times the first window after each change (the
adaptation). Needs root. From the checkout:
``PYTHONPATH=. .venv/bin/python bench/uplink.py``; results in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from tests.netbed import missing_reason, netbed
from tests.uplink_probe import Reception, uplink_session, watch, write_busy_y4m

LINKS = (None, 1000, 256)  # kbit/s; None: unshaped
SETTLE_S = 8.0
WINDOWS, WINDOW_S = 4, 8.0


def row(label: str, windows: list[Reception]) -> str:
    heights = [h for w in windows for h in w.heights if h]
    cells = [
        label,
        f"{statistics.median([w.fps for w in windows]):.1f}",
        f"{int(statistics.median(heights or [0]))} ({min(heights, default=0)}–{max(heights, default=0)})",
        f"{max(w.longest_freeze_s for w in windows):.2f}",
        f"{statistics.median([w.audio_packets_per_s for w in windows]):.0f}",
        f"{max(w.audio_longest_gap_s for w in windows):.2f}",
        f"{statistics.median([w.audio_concealed for w in windows]):.1%}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| link | fps (median) | height median (range) | longest freeze s | audio packets/s"
    " | longest audio gap s | audio concealed |"
)


async def main() -> None:
    reason = missing_reason()
    if reason is not None:
        sys.exit(reason)
    with tempfile.TemporaryDirectory() as tmp_dir, netbed() as bed:
        tmp = Path(tmp_dir)
        clip = write_busy_y4m(tmp / "busy.y4m")
        rows, settling = [], []
        async with async_playwright() as pw, uplink_session(pw, bed, clip, tmp) as s:
            for kbit in LINKS:
                if kbit is None:
                    bed.unshape()
                else:
                    bed.shape(kbit)
                label = "unshaped" if kbit is None else f"{kbit} kbit/s"
                first = await watch(s.console, SETTLE_S)
                settling.append(f"- {label}, the first {SETTLE_S:.0f} s: {first.line()}")
                windows = [await watch(s.console, WINDOW_S) for _ in range(WINDOWS)]
                for w in windows:
                    print(f"{label}: {w.line()}", flush=True)
                rows.append(row(label, windows))
    print()
    print(HEADER)
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(settling))


if __name__ == "__main__":
    asyncio.run(main())
