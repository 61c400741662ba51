"""A gap in the facility's video is a gap in the replay: the phone leaves for 3 s and comes
back; the replay timeline marks the hole with its length, and playback goes past it."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Browser, expect

from server.media.client import ParticipantClient
from server.simcam import ClipReplayTrack, ToneTrack, encode_clip
from tests.e2e.test_replay import open_page
from tests.support import LiveServer, new_audit, new_invite

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AWAY_S = 3.0


async def test_the_replay_timeline_marks_a_gap_with_its_length(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    clip = await asyncio.to_thread(encode_clip, 60, 640, 360)
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "Cat Lai Depot")
        invite = await new_invite(http, audit_id)
        for visit in range(2):  # streams, leaves for AWAY_S, streams again
            phone = ParticipantClient(
                server.ws_url(audit_id), token=invite["token"], video=ClipReplayTrack(clip), audio=ToneTrack()
            )
            await phone.connect()
            try:
                await asyncio.wait_for(phone.media_live.wait(), 10)
                await asyncio.sleep(2.0)  # two seconds of video on each side of the gap
            finally:
                await phone.close()
                left_at = time.monotonic()
            if visit == 0:
                await asyncio.sleep(max(0.0, left_at + AWAY_S - time.monotonic()))
        deadline = time.monotonic() + 15
        while len((await http.get(f"/api/audits/{audit_id}/replay")).json()["segments"]) < 2:
            assert time.monotonic() < deadline, "stage: recording: fewer than 2 segments"
            await asyncio.sleep(0.25)

    page = await open_page(browser, server, f"/audits/{audit_id}/replay")
    gap = page.get_by_test_id("recording-gap")
    await expect(gap).to_have_count(1, timeout=10_000)
    length = int(await gap.get_attribute("data-duration") or "0")
    assert AWAY_S <= length <= AWAY_S + 8, f"stage: timeline: the gap is marked as {length} s"
    await expect(gap).to_contain_text(f"{length} s")
    assert "No video for" in (await gap.get_attribute("title") or "")
