"""Recorded segments with missing audio still play in Chromium's Media Source: the replay
fills the holes with silence (web/static/js/webm-gaps.js) before appending a segment."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from server.simcam import EncodedClip, encode_clip
from tests.support import LiveServer
from tests.test_recorder_segments import (
    AUDIO_NS,
    audio_frames,
    by_arrival,
    opus_packets,
    record,
    video_frames,
)

pytestmark = pytest.mark.e2e

MIME = 'video/webm; codecs="vp8, opus"'
# Appends the (filled) segment to a fresh MediaSource; the buffered ranges, in seconds.
BUFFERED = """async ([encoded, fill, mime]) => {
  const { fillAudioGaps } = await import('/static/js/webm-gaps.js');
  let bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)).buffer;
  if (fill) bytes = fillAudioGaps(bytes);
  const source = new MediaSource();
  const video = document.createElement('video');
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener('sourceopen', resolve, { once: true }));
  const buffer = source.addSourceBuffer(mime);
  await new Promise((resolve, reject) => {
    buffer.addEventListener('updateend', resolve, { once: true });
    buffer.addEventListener('error', () => reject(new Error('append failed')), { once: true });
    buffer.appendBuffer(bytes);
  });
  const ranges = [];
  const got = buffer.buffered;
  for (let i = 0; i < got.length; i++) ranges.push([got.start(i), got.end(i)]);
  return ranges;
}"""


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return encode_clip(frames=60, width=320, height=180, gop=30)


async def buffered(server: LiveServer, browser: Browser, segment: bytes, fill: bool) -> list[list[float]]:
    page = await browser.new_page()
    try:
        await page.goto(f"{server.base_url}/login")
        encoded = base64.b64encode(segment).decode()
        ranges: list[list[float]] = await page.evaluate(BUFFERED, [encoded, fill, MIME])
        return ranges
    finally:
        await page.close()


def one_segment(directory: Path, frames: list[Any]) -> bytes:
    """The bytes of the one segment these frames make."""
    _, closed = record(directory, frames)
    assert len(closed) == 1
    return closed[0].path.read_bytes()


async def test_a_segment_without_any_audio_packet_plays_its_video(
    server: LiveServer, browser: Browser, clip: EncodedClip, tmp_path: Path
) -> None:
    segment = one_segment(tmp_path, video_frames(clip))  # 2 s of video, its audio track empty
    assert await buffered(server, browser, segment, fill=False) == [], "as stored: nothing plays"
    [(start, end)] = await buffered(server, browser, segment, fill=True)
    assert start < 0.05 and end > 1.9, (start, end)


async def test_holes_in_the_audio_leave_one_playable_range(
    server: LiveServer, browser: Browser, clip: EncodedClip, tmp_path: Path
) -> None:
    video = video_frames(clip, t0=10**18)
    audio = audio_frames(opus_packets(100), rtp0=0, t0=10**18)
    # Audio starts half a second late and misses half a second in the middle.
    kept = [f for f in audio if 0.5e9 <= f.arrival_ns - 10**18 < 0.9e9 or f.arrival_ns - 10**18 >= 1.4e9]
    assert len(kept) < len(audio) - 40 and AUDIO_NS
    segment = one_segment(tmp_path, by_arrival(video, kept))
    assert len(await buffered(server, browser, segment, fill=False)) != 1, "as stored: split or empty"
    [(start, end)] = await buffered(server, browser, segment, fill=True)
    assert start < 0.05 and end > 1.9, (start, end)
