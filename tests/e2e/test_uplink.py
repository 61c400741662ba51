"""A thin uplink in real Chromium: the phone in its own network namespace behind a token
bucket (tc tbf) at 1 Mbit/s and 256 kbit/s, the auditor's console outside it.

What the auditor relies on: the voice keeps coming, the picture gets softer rather than
frozen, the console says how the phone's uplink is doing and marks a weak link, and photo
mode pauses the video (audio on) for full-resolution photos and resumes it afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import av
import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.netbed import needs_root, netbed
from tests.uplink_probe import Reception, UplinkSession, uplink_session, watch, write_busy_y4m

pytestmark = [pytest.mark.e2e, needs_root]

FREEZE_LIMIT_S = 2.5  # "no freeze longer than ~2 s", with one 200 ms sample of slack
# On a starved 2-core machine both browsers and the server stall now and then, the audio
# with the video: a stage passes when one of a few windows shows what it must.
WINDOWS, WINDOW_S = 3, 8.0


async def steady(console: Page, stage: str, *checks: Callable[[Reception, str], None]) -> Reception:
    """A window in which every check holds; fails with every window seen."""
    problems: list[str] = []
    for _ in range(WINDOWS):
        seen = await watch(console, WINDOW_S)
        try:
            for check in checks:
                check(seen, stage)
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
            continue
        return seen
    raise AssertionError(f"stage {stage}: no steady window in {WINDOWS}:\n" + "\n".join(problems))


def audio_kept_coming(seen: Reception, stage: str) -> None:
    # Opus sends a packet every 20 ms: 50 a second. A gap of a second is a word lost.
    assert seen.audio_packets_per_s > 40, f"stage {stage}: audio thinned out: {seen.line()}"
    assert seen.audio_longest_gap_s < 1.0, f"stage {stage}: audio stopped for a while: {seen.line()}"
    assert seen.audio_concealed < 0.10, f"stage {stage}: the voice was mostly concealment: {seen.line()}"


def video_paused(seen: Reception, stage: str) -> None:
    assert seen.fps < 1, f"stage {stage}: video should be paused: {seen.line()}"


def video_kept_moving(seen: Reception, stage: str) -> None:
    assert seen.fps > 5, f"stage {stage}: video nearly stopped: {seen.line()}"
    assert seen.longest_freeze_s < FREEZE_LIMIT_S, f"stage {stage}: the picture froze: {seen.line()}"


async def panel_numbers(console: Page, stage: str) -> dict[str, str | None]:
    panel = console.get_by_test_id("uplink-stats")
    await expect(panel, f"stage {stage}: uplink panel").to_be_visible(timeout=15_000)
    await console.wait_for_function(
        """() => { const p = document.querySelector('[data-testid="uplink-stats"]');
                   return p && p.dataset.kbps && p.dataset.height && p.dataset.fps; }""",
        timeout=15_000,
    )
    return {key: await panel.get_attribute(f"data-{key}") for key in ("kbps", "height", "fps", "weak")}


@pytest.fixture(scope="module")
def busy_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_busy_y4m(tmp_path_factory.mktemp("busy") / "camera.y4m")


async def test_thin_uplink_keeps_audio_and_a_moving_picture(busy_clip: Path, tmp_path: Path) -> None:
    with netbed() as bed:
        async with async_playwright() as pw, uplink_session(pw, bed, busy_clip, tmp_path) as s:
            await unshaped(s)
            bed.shape(1000)
            await one_megabit(s)
            bed.shape(256)
            await thin(s)
            await photo_mode_round_trip(s)
            await kept_its_connection(s.phone, "after 256 kbit/s and photo mode")
    in_time_order(tmp_path / "data")


def in_time_order(data_dir: Path) -> None:
    """Every recorded segment's blocks go forward in time across audio and video, as browsers
    need to replay it, although the thin link delayed key frames by seconds."""
    segments = sorted(data_dir.rglob("segment-*.webm")) + sorted(data_dir.rglob("segment-*.mkv"))
    assert segments, "stage recording: no segment was recorded"
    for path in segments:
        with av.open(str(path)) as container:
            times = [float(p.pts * p.time_base) for p in container.demux() if p.size and p.pts is not None]
        back = [(a, b) for a, b in pairwise(times) if b < a]
        assert not back, f"stage recording: {path.name} goes back in time {len(back)} times, first {back[0]}"


async def kept_its_connection(phone: Page, stage: str) -> None:
    """A thin link is not a dead one: the phone never gave its socket or its peer connection
    up. (A moment of silence on a starved machine may make it check, by a ping its socket
    answers: that costs nothing and is not counted against it.)"""
    opens, connections, checks = await phone.evaluate(
        "() => [window.vaudit.socketOpens, window.vaudit.connections, window.vaudit.pathLosses]"
    )
    assert (opens, connections) == (1, 1), (
        f"stage {stage}: the phone took its thin link for a dead one: {opens} sockets opened, "
        f"{connections} peer connections made ({checks} silent or moved paths checked)"
    )


async def unshaped(s: UplinkSession) -> None:
    numbers = await panel_numbers(s.console, "unshaped")
    await steady(s.console, "unshaped", video_kept_moving, audio_kept_coming, usable_picture)
    await expect(s.console.get_by_test_id("weak-link"), "stage unshaped: no weak link").to_be_hidden()
    assert numbers["weak"] == "false"
    panel = s.console.get_by_test_id("uplink-stats")
    await expect(panel).to_contain_text("kbit/s")
    await expect(panel).to_contain_text("×")
    await expect(panel).to_contain_text("fps")
    await expect(panel).to_contain_text("RTT")
    await expect(panel).to_contain_text("loss")


def usable_picture(seen: Reception, stage: str) -> None:
    assert seen.median_height >= 240, f"stage {stage}: a usable picture should arrive: {seen.line()}"


def reduced_picture(seen: Reception, stage: str) -> None:
    assert 0 < seen.median_height < 240, f"stage {stage}: resolution should drop: {seen.line()}"


async def one_megabit(s: UplinkSession) -> None:
    # The encoder adapts within a few seconds of the link shrinking; then it must hold.
    await steady(s.console, "1 Mbit/s", video_kept_moving, audio_kept_coming)


async def thin(s: UplinkSession) -> None:
    weak = s.console.get_by_test_id("weak-link")
    await expect(weak, "stage 256 kbit/s: the weak-link badge").to_be_visible(timeout=40_000)
    await expect(weak, "stage 256 kbit/s: the badge names the camera").to_have_text("Weak link · Camera 1")
    await steady(s.console, "256 kbit/s", video_kept_moving, audio_kept_coming, reduced_picture)
    numbers = await panel_numbers(s.console, "256 kbit/s")
    assert numbers["kbps"] is not None and 0 < int(numbers["kbps"]) < 256, numbers


async def photo_mode_round_trip(s: UplinkSession) -> None:
    console, phone = s.console, s.phone
    toggle = console.get_by_test_id("photo-mode")
    await expect(toggle).to_be_enabled()
    await console.keyboard.press("v")
    await expect(toggle, "stage photo mode on: console").to_have_attribute("data-state", "on", timeout=10_000)
    await expect(phone.get_by_test_id("photo-mode"), "stage photo mode on: phone").to_be_visible(
        timeout=10_000
    )
    await expect(console.get_by_test_id("connection-state")).to_contain_text("Photo mode")
    await expect(
        console.get_by_test_id("weak-link"), "stage photo mode: no weak link for paused video"
    ).to_be_hidden(timeout=10_000)
    # Frames already queued in the thin link still arrive after the switch: wait until the
    # picture has stopped (bounded), then check that it stays stopped while audio goes on.
    deadline = time.monotonic() + 20
    while (drained := await watch(console, 2)).fps > 0:
        assert time.monotonic() < deadline, f"stage photo mode: video never stopped: {drained.line()}"
    await steady(console, "photo mode", audio_kept_coming, video_paused)

    await console.keyboard.press("r")
    await phone.get_by_test_id("take-photo").click(timeout=10_000)
    photo = console.locator('[data-testid="evidence-item"][data-kind="photo"]')
    await expect(photo, "stage photo mode: the photo arrives over the thin link").to_have_count(
        1, timeout=60_000
    )

    await toggle.click()
    await expect(toggle, "stage photo mode off: console").to_have_attribute(
        "data-state", "off", timeout=10_000
    )
    await expect(phone.get_by_test_id("photo-mode"), "stage photo mode off: phone").to_be_hidden()
    await expect(
        console.get_by_test_id("connection-state"), "stage photo mode off: video back"
    ).to_have_attribute("data-state", "connected", timeout=20_000)
    # The encoder starts again from a key frame on a 256 kbit/s link: the frame rate comes
    # back within a few seconds, then it holds as it did before photo mode.
    await steady(console, "photo mode off: video flows again", video_kept_moving, audio_kept_coming)
