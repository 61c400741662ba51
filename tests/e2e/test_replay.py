"""The reviewer's pages in real Chromium: a recorded walkthrough replays from its segments
through Media Source Extensions, its checkpoint markers seek, a capture verifies against the
evidence ledger, and the verify page recognises a recorded still and rejects an altered one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from server.db.models import Segment
from server.media.client import ParticipantClient
from server.simcam import ClipReplayTrack, ToneTrack, encode_clip
from tests.page_watch import sign_in
from tests.support import LiveServer, live_server, new_invite

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TEMPLATE = "container-7-point"
VIDEO_STATE = """() => {
  const v = document.querySelector('[data-testid="replay-video"]');
  return {t: v.currentTime, readyState: v.readyState, paused: v.paused, seeking: v.seeking,
          frames: v.getVideoPlaybackQuality().totalVideoFrames, error: v.error && v.error.message,
          buffered: Array.from({length: v.buffered.length},
                               (_, i) => `${v.buffered.start(i).toFixed(3)}-${v.buffered.end(i).toFixed(3)}`),
          notice: document.getElementById('replay-notice').textContent};
}"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """One-second segments, so that a few seconds of walking make several of them."""
    async with live_server(tmp_path / "data", segment_seconds=1.0, capture_window_ms=200) as live:
        yield live


async def closed_segments(http: httpx.AsyncClient, audit_id: str) -> int:
    r = await http.get(f"/api/audits/{audit_id}/recording")
    assert r.status_code == 200, r.text
    return len(r.json()["segments"])


async def camera_live(server: LiveServer, audit_id: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not server.app_ctx().hub.rooms[audit_id].is_live():
        assert time.monotonic() < deadline, f"the phone's video was not live again within {seconds} s"
        await asyncio.sleep(0.05)


async def record_walkthrough(server: LiveServer, token: str) -> tuple[str, dict[str, Any]]:
    """A phone streams while the auditor visits two checkpoints and captures at each;
    returns the audit id and its replay manifest."""
    clip = await asyncio.to_thread(encode_clip, 90, 640, 360)
    async with server.client(token) as http:
        facility = {"name": "Da Nang Cartons", "country": "VN"}
        r = await http.post("/api/audits", json={"facility": facility, "template": TEMPLATE})
        assert r.status_code == 201, r.text
        audit_id = str(r.json()["id"])
        view = (await http.get(f"/api/audits/{audit_id}/checkpoints")).json()
        keys = [cp["key"] for section in view["sections"] for cp in section["checkpoints"]][:2]
        invite = await new_invite(http, audit_id)
        phone = ParticipantClient(
            server.ws_url(audit_id), token=invite["token"], video=ClipReplayTrack(clip), audio=ToneTrack()
        )
        await phone.connect()
        try:
            await asyncio.wait_for(phone.media_live.wait(), 10)
            await asyncio.sleep(1.5)  # the first segment opens at the first key frame
            for key in keys:
                moved = await http.put(f"/api/audits/{audit_id}/current", json={"key": key})
                assert moved.status_code == 200, moved.text
                await asyncio.sleep(1.5)
                # A starved machine can miss the 2.5 s live window; a capture needs the camera live.
                await camera_live(server, audit_id)
                capture = await http.post(f"/api/audits/{audit_id}/captures", json={"checkpoint": key})
                assert capture.status_code == 201, capture.text
                await asyncio.sleep(1.5)
            deadline = time.monotonic() + 15
            while await closed_segments(http, audit_id) < 2:
                assert time.monotonic() < deadline, "fewer than 2 segments closed"
                await asyncio.sleep(0.25)
        finally:
            await phone.close()
        await asyncio.sleep(0.5)  # the room closes and its last segment is written
        manifest = (await http.get(f"/api/audits/{audit_id}/replay")).json()
    assert [cp["key"] for cp in manifest["checkpoints"]] == keys
    assert len(manifest["segments"]) >= 2
    return audit_id, manifest


async def video_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate(VIDEO_STATE)
    assert state["error"] is None, f"the video failed: {state['error']}"
    return state


async def wait_video(page: Page, check: Any, what: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        state = await video_state(page)
        if check(state):
            return state
        assert time.monotonic() < deadline, f"{what}; the video is at {state}"
        await asyncio.sleep(0.1)


async def open_page(browser: Browser, server: LiveServer, path: str) -> Page:
    context = await browser.new_context(viewport={"width": 1366, "height": 800})
    page = await context.new_page()
    await sign_in(page, server, path)
    return page


async def test_replay_plays_seeks_to_checkpoints_and_verifies_a_capture(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    audit_id, manifest = await record_walkthrough(server, api_token)
    page = await open_page(browser, server, f"/audits/{audit_id}/replay")

    await wait_video(page, lambda s: s["readyState"] >= 2, "no first frame")
    await expect(page.get_by_test_id("replay-overlay")).to_be_hidden()
    before = await video_state(page)
    await page.keyboard.press("Space")
    await wait_video(
        page,
        lambda s: not s["paused"] and s["t"] > before["t"] + 0.5 and s["frames"] > 0,
        "playback did not advance",
    )

    markers = page.get_by_test_id("checkpoint-marker")
    await expect(markers).to_have_count(len(manifest["checkpoints"]))
    await page.evaluate("document.querySelector('[data-testid=\"replay-video\"]').pause()")
    second = markers.nth(1)
    offset = float(await second.get_attribute("data-offset") or "nan")
    await second.click()
    await wait_video(
        page,
        lambda s: not s["seeking"] and abs(s["t"] - offset) < 0.5 and s["readyState"] >= 2,
        f"the second marker did not seek to {offset}",
    )

    captures = [e for e in manifest["evidence"] if e["kind"] == "capture"]
    await expect(page.get_by_test_id("capture-tick")).to_have_count(len(captures))
    item = page.locator(f'[data-testid="evidence-item"][data-id="{captures[0]["id"]}"]')
    badge = item.get_by_test_id("verification")
    assert await badge.get_attribute("data-state") in ("signed", "pending")
    await item.get_by_test_id("verify-now").click()
    await expect(badge).to_have_attribute("data-state", "verified", timeout=10_000)
    await expect(item.get_by_test_id("verify-checks")).to_contain_text("inclusion proof")
    await expect(page.get_by_test_id("replay-integrity")).to_contain_text("matches its recorded SHA-256")


async def test_verify_page_finds_a_recorded_still_and_not_an_altered_copy(
    server: LiveServer, api_token: str, browser: Browser, tmp_path: Path
) -> None:
    audit_id, manifest = await record_walkthrough(server, api_token)
    still = next(e for e in manifest["evidence"] if e["kind"] == "still" and e["offset"] > 1)
    async with server.client(api_token) as http:
        picture = (await http.get(still["image_url"])).content
    original = tmp_path / "still.jpg"
    original.write_bytes(picture)
    altered = tmp_path / "altered.jpg"
    altered.write_bytes(picture[:300] + bytes([picture[300] ^ 1]) + picture[301:])

    page = await open_page(browser, server, "/verify")
    result = page.get_by_test_id("verify-result")
    await page.get_by_test_id("verify-file").set_input_files(original)
    await expect(result).to_have_attribute("data-status", "ok", timeout=10_000)
    # The test clip loops, so the same frame may have been kept more than once.
    found = page.locator(f'[data-testid="verify-match"][data-id="{still["id"]}"]')
    href = await found.get_by_test_id("verify-replay-link").get_attribute("href") or ""
    path, _, start = href.partition("#t=")
    assert path == f"/audits/{audit_id}/replay"
    assert float(start) == pytest.approx(still["offset"])

    await page.get_by_test_id("verify-file").set_input_files(altered)
    await expect(result).to_have_attribute("data-status", "unknown", timeout=10_000)
    await expect(result).to_contain_text("Not found in any audit you can see")

    await page.goto(f"{server.base_url}/audits/{audit_id}/replay#t={still['offset']}")
    await wait_video(
        page,
        lambda s: abs(s["t"] - still["offset"]) < 0.5 and s["readyState"] >= 2,
        "#t= did not start there",
    )


BUFFERED_AT = """(t) => {
  const b = document.querySelector('[data-testid="replay-video"]').buffered;
  for (let i = 0; i < b.length; i++) if (b.start(i) <= t && t < b.end(i)) return true;
  return false;
}"""
PAUSED_AT = """(t) => {
  const v = document.querySelector('[data-testid="replay-video"]');
  v.pause();
  v.currentTime = t;
}"""


async def replay_with_a_hole(
    server: LiveServer, api_token: str, browser: Browser, hole_s: float
) -> tuple[Page, float]:
    """A recording whose first segment's span runs ``hole_s`` past its file's last frame, open
    in the replay with the next segment buffered; the page and that segment's offset."""
    audit_id, _ = await record_walkthrough(server, api_token)
    async with server.app_ctx().db.session() as s:
        query = select(Segment).where(Segment.audit_id == audit_id).order_by(Segment.seq).limit(1)
        first = (await s.execute(query)).scalar_one()
        first.start_ns -= int(hole_s * 1e9)
        await s.commit()
    async with server.client(api_token) as http:
        manifest = (await http.get(f"/api/audits/{audit_id}/replay")).json()
    following = float(manifest["segments"][1]["offset"])
    page = await open_page(browser, server, f"/audits/{audit_id}/replay")
    await wait_video(page, lambda s: s["readyState"] >= 2, "no first frame")
    await page.wait_for_function(BUFFERED_AT, arg=following + 0.1, timeout=30_000)
    return page, following


async def test_a_seek_to_a_moment_without_a_frame_lands_on_the_next_one(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    """A segment's span can hold less media than it covers (its file ends before the next
    segment starts); a paused seek into that hole lands on the next frame instead of seeking
    forever."""
    hole_s = 2.0
    page, following = await replay_with_a_hole(server, api_token, browser, hole_s)
    into_hole = following - hole_s / 2
    await page.evaluate(PAUSED_AT, into_hole)
    landed = await wait_video(
        page,
        lambda s: not s["seeking"] and s["readyState"] >= 2,
        f"a seek to {into_hole:.2f} s, in the hole before {following:.2f} s, did not land",
    )
    assert following - 0.1 <= landed["t"] <= following + 0.5, f"landed at {landed['t']}, not at {following}"


async def test_a_replay_opened_at_a_segments_very_start_shows_it(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    """A media time reads back up to 1 µs early (Chromium keeps whole microseconds), and at a
    segment's very offset that early reading falls in the gap before it: a replay opened there
    (as the verify page links a still taken at a segment's first key frame) must still land."""
    audit_id, _ = await record_walkthrough(server, api_token)
    async with server.app_ctx().db.session() as s:
        query = select(Segment).where(Segment.audit_id == audit_id).order_by(Segment.seq)
        first, second = list((await s.execute(query)).scalars())[:2]
        # A few ms later, the second segment starts at an offset that reads back 1 µs early.
        ms = (second.start_ns - first.start_ns) // 1_000_000 + 1
        while int(ms / 1000 * 1e6) == ms * 1000:
            ms += 1
        second.start_ns = first.start_ns + ms * 1_000_000
        await s.commit()
    at = ms / 1000
    page = await open_page(browser, server, "/verify")
    await page.goto(f"{server.base_url}/audits/{audit_id}/replay#t={at:.3f}")
    async with server.client(api_token) as http:
        manifest = (await http.get(f"/api/audits/{audit_id}/replay")).json()
    spans = [(g["seq"], g["offset"], g["duration"]) for g in manifest["segments"]]
    await wait_video(
        page,
        lambda s: not s["seeking"] and abs(s["t"] - at) < 0.5 and s["readyState"] >= 2,
        f"a replay opened at {at:.3f} s, where a segment starts, did not land (segments: {spans})",
    )


FIRST_RANGE_END = """() => {
  const b = document.querySelector('[data-testid="replay-video"]').buffered;
  return b.length ? b.end(0) : -1;
}"""


async def test_a_seek_to_the_very_end_of_data_before_a_hole_lands(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    """A paused seek a hair before the end of what is buffered, with a hole after it, lands:
    on the last frame before the hole or on the first after it, never seeking forever."""
    page, _ = await replay_with_a_hole(server, api_token, browser, 2.0)
    edge = float(await page.evaluate(FIRST_RANGE_END))
    for at in (edge - 0.0005, edge - 0.000001):
        await page.evaluate(PAUSED_AT, at)
        await wait_video(
            page,
            lambda s: not s["seeking"] and s["readyState"] >= 2,
            f"a seek to {at:.6f} s, the end of the data before a hole ({edge:.6f} s), did not land",
        )
