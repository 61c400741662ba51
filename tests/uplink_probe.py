"""What the auditor receives while the phone's uplink is thin: shared by the browser test
(tests/e2e/test_uplink.py) and the benchmark (bench/uplink.py).

The phone is a Chromium in its own network namespace (tests/netbed.py) whose egress is a
token bucket; the auditor is a Chromium in the root namespace. :func:`watch` samples the
console's own ``getStats()`` inside the page every 200 ms for a while and
:func:`summarize` turns the samples into what a person would notice: the longest time
without a new video frame, the picture's height, the frame rate, and whether the voice
kept coming (RTP packets every second, little concealment by the jitter buffer).
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Page, Playwright, expect

from server.media import framecode
from tests.netbed import NetBed, launch_chromium
from tests.page_watch import open_console, open_staff
from tests.support import LiveServer, live_server, new_audit, new_invite


def write_busy_y4m(path: Path, frames: int = 90, width: int = 640, height: int = 360) -> Path:
    """A clip that costs an encoder what a walking phone camera costs: a detailed scene that
    pans, with sensor noise in every frame. The flat test card of the other browser tests
    needs 40 kbit/s and never feels a thin uplink."""
    rng = np.random.default_rng(12)
    scene = rng.integers(30, 225, (height, width * 2), dtype=np.uint8)
    scene = ((scene.astype(np.uint16) + np.roll(scene, 1, axis=1) + np.roll(scene, 1, axis=0)) // 3).astype(
        np.uint8
    )
    chroma = np.full((height // 2, width // 2), 128, np.uint8)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(frames):
            x = (n * 6) % width
            noise = rng.normal(0, 3, (height, width))
            luma = np.clip(scene[:, x : x + width] + noise, 0, 255).astype(np.uint8)
            framecode.burn(luma, n)
            out.write(b"FRAME\n")
            out.write(luma.tobytes())
            out.write(chroma.tobytes())
            out.write(chroma.tobytes())
    return path


# Runs in the console: samples its peer connection's inbound video and audio for `ms`.
WATCH = """async (ms) => {
  const samples = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const pc = window.vaudit && window.vaudit.pc;
    if (pc) {
      const stats = await pc.getStats();
      let v = null; let a = null;
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') v = s;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') a = s;
      });
      samples.push({
        t: performance.now(),
        frames: v ? (v.framesDecoded || 0) : 0,
        width: v ? (v.frameWidth || 0) : 0,
        height: v ? (v.frameHeight || 0) : 0,
        packets: a ? (a.packetsReceived || 0) : 0,
        concealed: a ? (a.concealedSamples || 0) : 0,
        total: a ? (a.totalSamplesReceived || 0) : 0,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return samples;
}"""


@dataclass(frozen=True)
class Reception:
    """What reached the auditor during one watch."""

    seconds: float
    fps: float
    longest_freeze_s: float  # the longest time without a new decoded frame
    heights: tuple[int, ...]  # the picture's height, sample by sample (0: no picture yet)
    audio_packets_per_s: float
    audio_longest_gap_s: float  # the longest time without a new audio packet
    audio_concealed: float  # fraction of the played samples the jitter buffer had to invent

    @property
    def median_height(self) -> int:
        shown = [h for h in self.heights if h] or [0]
        return int(statistics.median(shown))

    def line(self) -> str:
        return (
            f"{self.fps:.1f} fps, height {self.median_height} (min {min(self.heights or (0,))},"
            f" max {max(self.heights or (0,))}), longest freeze {self.longest_freeze_s:.2f} s;"
            f" audio {self.audio_packets_per_s:.0f} packets/s, longest gap {self.audio_longest_gap_s:.2f} s,"
            f" concealed {self.audio_concealed:.1%}"
        )


def _longest_still(samples: list[dict[str, Any]], key: str) -> float:
    longest, since = 0.0, samples[0]["t"]
    for before, now in itertools.pairwise(samples):
        if now[key] > before[key]:
            since = now["t"]
        longest = max(longest, (now["t"] - since) / 1000)
    return longest


def summarize(samples: list[dict[str, Any]]) -> Reception:
    if len(samples) < 2:
        raise AssertionError("the console's peer connection gave no statistics")
    first, last = samples[0], samples[-1]
    seconds = (last["t"] - first["t"]) / 1000
    played = last["total"] - first["total"]
    return Reception(
        seconds=seconds,
        fps=(last["frames"] - first["frames"]) / seconds,
        longest_freeze_s=_longest_still(samples, "frames"),
        heights=tuple(int(s["height"]) for s in samples),
        audio_packets_per_s=(last["packets"] - first["packets"]) / seconds,
        audio_longest_gap_s=_longest_still(samples, "packets"),
        audio_concealed=(last["concealed"] - first["concealed"]) / played if played > 0 else 1.0,
    )


async def watch(console: Page, seconds: float) -> Reception:
    """Sample the console's reception for ``seconds`` (inside the page: no round trips)."""
    return summarize(await console.evaluate(WATCH, int(seconds * 1000)))


@dataclass
class UplinkSession:
    server: LiveServer
    token: str
    audit_id: str
    console: Page
    phone: Page


@contextlib.asynccontextmanager
async def uplink_session(
    playwright: Playwright, bed: NetBed, clip: Path, tmp: Path
) -> AsyncIterator[UplinkSession]:
    """A server on the bed's address, the console in the root namespace and the phone in the
    bed's namespace, both live; everything is closed afterwards."""
    async with live_server(tmp / "data", host=bed.server_host) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            audit_id = await new_audit(http, "Chattogram Container Yard")
            invite = await new_invite(http, audit_id, label="Karim")
        origin = server.base_url
        auditor = await launch_chromium(playwright, clip, origin)
        phone_browser = await launch_chromium(playwright, clip, origin, bed, tmp)
        try:
            console = await open_console(auditor, server, audit_id)
            phone = await open_staff(phone_browser, invite["url"])
            for page, who in ((phone, "phone"), (console, "console")):
                await expect(
                    page.get_by_test_id("connection-state"), f"stage: {who} connects"
                ).to_have_attribute("data-state", "connected", timeout=30_000)
            yield UplinkSession(server, token, audit_id, console, phone)
        finally:
            await phone_browser.close()
            await auditor.close()
