"""Two facility phones (two browser contexts) and an auditor in real Chromium: both cameras on
the console, S swaps them, captures and the pointer follow the camera on screen, and the
replay shows both recordings side by side."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.page_watch import open_console, open_staff
from tests.support import live_server, new_audit, new_invite

pytestmark = pytest.mark.e2e

PLAYING = """(testid) => {
  const video = document.querySelector(`[data-testid="${testid}"]`);
  return Boolean(video) && video.videoWidth > 0 && video.readyState >= 2;
}"""


VIDEO_STATE = """(testid) => {
  const v = document.querySelector(`[data-testid="${testid}"]`);
  if (!v) return null;
  const b = v.buffered;
  const ranges = Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)].map((x) => x.toFixed(2)));
  return { t: v.currentTime, seeking: v.seeking, paused: v.paused, readyState: v.readyState,
           width: v.videoWidth, buffered: ranges.join(' '), error: v.error && v.error.message };
}"""


async def playing(page: Page, testid: str, stage: str) -> None:
    try:
        await page.wait_for_function(PLAYING, arg=testid, timeout=30_000)
    except Exception as exc:
        state = await page.evaluate(VIDEO_STATE, testid)
        raise AssertionError(f"{stage}: {testid} shows no picture: {state}") from exc


FRAMES = """(testid) => {
  const video = document.querySelector(`[data-testid="${testid}"]`);
  return video && video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
}"""


async def frames_advance(page: Page, testid: str, stage: str) -> None:
    """The video element keeps getting new frames (30 more within a bounded wait)."""
    start = int(await page.evaluate(FRAMES, testid))
    try:
        await page.wait_for_function(f"(t) => ({FRAMES})(t) >= {start + 30}", arg=testid, timeout=20_000)
    except Exception as exc:
        raise AssertionError(f"{stage}: {testid} stopped at {start} frames") from exc


async def connected(page: Page, who: str) -> None:
    await expect(page.get_by_test_id("connection-state"), f"{who} connected").to_have_attribute(
        "data-state", "connected", timeout=30_000
    )


async def test_two_phones_on_the_console_and_in_replay(tmp_path: Path, browser: Browser) -> None:
    async with live_server(tmp_path / "data", segment_seconds=1.0, capture_window_ms=200) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            audit_id = await new_audit(http, "Two Dock Warehouse")
            gate = await new_invite(http, audit_id, label="Gate phone")
            dock = await new_invite(http, audit_id, label="Dock phone")
        console = await open_console(browser, server, audit_id)
        first = await open_staff(browser, gate["url"])
        await connected(first, "the first phone")
        second = await open_staff(browser, dock["url"])
        await connected(second, "the second phone")
        await connected(console, "the console")

        # Both cameras: camera 1 large, camera 2 small, each labelled.
        await playing(console, "remote-video", "camera 1 on the large view")
        await playing(console, "pip-video", "camera 2 on the small view")
        label, pip_label = console.get_by_test_id("camera-label"), console.get_by_test_id("pip-label")
        await expect(label).to_have_text("Camera 1 · Gate phone")
        await expect(pip_label).to_have_text("Camera 2 · Dock phone")

        # Camera 1's phone reloads: camera 2 fills the large view meanwhile, camera 1 returns to it.
        await first.reload()
        await first.get_by_test_id("consent-accept").click()
        await connected(first, "the first phone after its reload")
        await expect(label, "camera 1 back on the large view").to_have_text("Camera 1 · Gate phone")
        await playing(console, "remote-video", "camera 1 on the large view after its phone's reload")

        # Each camera's uplink on its own line, labelled.
        for number in (1, 2):
            line = console.locator(f'[data-testid="uplink-stats"][data-camera="{number}"]')
            await expect(line, f"camera {number}'s uplink line").to_be_visible(timeout=15_000)
            await expect(line).to_contain_text(f"Camera {number} uplink")
            await expect(line).to_contain_text("fps")
        weak = console.locator('[data-testid="weak-link"][data-camera="2"]')
        await expect(weak).to_have_text("Weak link · Camera 2")  # hidden unless the link is weak

        items = console.get_by_test_id("evidence-item")
        await console.keyboard.press("c")
        await expect(items).to_have_count(1, timeout=15_000)
        await expect(items.first).to_have_attribute("data-camera", "1")

        # S swaps: camera 2 large; the next capture and the pointer go to it.
        await console.keyboard.press("s")
        await expect(label).to_have_text("Camera 2 · Dock phone")
        await expect(pip_label).to_have_text("Camera 1 · Gate phone")
        await playing(console, "remote-video", "camera 2 on the large view after the swap")
        await console.keyboard.press("c")
        await expect(items).to_have_count(2, timeout=15_000)
        newest = items.first
        await expect(newest).to_have_attribute("data-camera", "2")
        await expect(newest.get_by_test_id("evidence-camera")).to_have_text("Camera 2")

        video = console.get_by_test_id("remote-video")
        box = await video.bounding_box()
        assert box is not None
        # A click points only while the console is connected (it shows so on the picture).
        await expect(console.locator("#video-frame.can-point")).to_be_visible()
        await video.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.6})
        try:
            await expect(second.get_by_test_id("pointer-marker")).to_be_visible(timeout=10_000)
        except AssertionError as exc:
            preview = await second.evaluate(
                "() => { const v = document.querySelector('video');"
                " return v && [v.videoWidth, v.videoHeight]; }"
            )
            state = await console.evaluate("() => [window.vaudit.state, window.vaudit.socketOpen]")
            raise AssertionError(
                f"the pointer did not reach the phone on screen (its preview {preview}, console {state})"
            ) from exc
        await expect(first.get_by_test_id("pointer-marker")).to_be_hidden()

        # A photo request goes to the phone on screen only, and its photo says which camera took it.
        await console.keyboard.press("r")
        await expect(second.get_by_test_id("photo-prompt"), "the photo prompt on screen").to_be_visible(
            timeout=10_000
        )
        await expect(first.get_by_test_id("photo-prompt")).to_be_hidden()
        await second.get_by_test_id("take-photo").click()
        photo = console.locator('[data-testid="evidence-item"][data-kind="photo"]')
        await expect(photo, "the requested photo on the console").to_have_count(1, timeout=30_000)
        await expect(photo).to_have_attribute("data-camera", "2")

        # Photo mode pauses camera 2 only: camera 1 goes on playing in the small view.
        toggle = console.get_by_test_id("photo-mode")
        await console.keyboard.press("v")
        await expect(toggle, "photo mode on, camera 2").to_have_attribute("data-state", "on", timeout=9_000)
        await expect(second.get_by_test_id("photo-mode"), "camera 2's phone in photo mode").to_be_visible(
            timeout=10_000
        )
        await expect(label).to_have_text("Camera 2 · Dock phone · Photo mode")
        await expect(pip_label).to_have_text("Camera 1 · Gate phone")
        await expect(first.get_by_test_id("photo-mode")).to_be_hidden()
        await frames_advance(console, "pip-video", "camera 1 streams while camera 2 is in photo mode")
        await console.keyboard.press("s")  # camera 1 on the large view: the button shows its state
        await expect(toggle).to_have_attribute("data-state", "off")
        await expect(pip_label).to_have_text("Camera 2 · Dock phone · Photo mode")
        await console.keyboard.press("s")
        await console.keyboard.press("v")
        await expect(toggle, "photo mode off, camera 2").to_have_attribute("data-state", "off", timeout=9_000)
        await expect(second.get_by_test_id("photo-mode")).to_be_hidden(timeout=10_000)

        # The help lists the swap key.
        await console.keyboard.press("?")
        await expect(console.locator("#help-dialog")).to_contain_text("Swap cameras")
        await console.keyboard.press("Escape")

        # Replay: the phones leave, their last segments close; both cameras play side by side.
        await first.context.close()
        await second.context.close()
        deadline = time.monotonic() + 30
        async with server.client(token) as http:
            while True:
                listing = (await http.get(f"/api/audits/{audit_id}/recording")).json()
                if {s["camera"] for s in listing["segments"]} == {1, 2}:
                    break
                assert time.monotonic() < deadline, "segments of both cameras were not recorded"
                await asyncio.sleep(0.2)
            manifest = (await http.get(f"/api/audits/{audit_id}/replay")).json()
        # From a moment both cameras filmed: halfway between the two captures, one from each camera,
        # taken while both were streaming (camera 2 sends no video in photo mode, later on, so a
        # segment spanning photo mode has no frame in its middle).
        captures = sorted(e["offset"] for e in manifest["evidence"] if e["kind"] == "capture")
        assert len(captures) == 2, f"two captures expected in the replay: {captures}"
        at = sum(captures) / 2
        for number in (1, 2):
            spans = [
                (g["offset"], g["offset"] + g["duration"])
                for g in manifest["segments"]
                if (g.get("camera") or 1) == number
            ]
            assert any(a <= at <= b for a, b in spans), f"camera {number} has no segment at {at}: {spans}"
            print(f"camera {number}: segments {spans}")  # shown if the replay fails
        replay = await console.context.new_page()
        await replay.goto(f"{server.base_url}/audits/{audit_id}/replay#t={at:.2f}")
        await expect(replay.get_by_test_id("replay-frames")).to_have_attribute("data-cameras", "2")
        await expect(replay.get_by_test_id("replay-second-label")).to_have_text("Camera 2")
        await playing(replay, "replay-video", "camera 1 in replay")
        await playing(replay, "replay-video-second", "camera 2 in replay")
        await console.context.close()
