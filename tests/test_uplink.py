"""Thin uplinks over signaling: `uplink-stats` from the phone, `uplink` to the auditors only,
`photo-mode` from the auditors who run the audit, and the weak-link verdict."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from server.media.uplink import (
    CLEAR_AFTER,
    WEAK_AFTER,
    ReceiverSample,
    UplinkMonitor,
    below_floor,
    receiver_view,
)
from server.signaling import messages as m
from server.simcam import ClipReplayTrack, EncodedClip, ToneTrack, encode_clip
from tests.parties import make_parties
from tests.support import LiveServer, new_audit, new_invite
from tests.test_guided_signaling import next_of
from tests.test_staff_controls import ledger, pair

STATS: dict[str, Any] = {
    "type": "uplink-stats",
    "video_kbps": 180.5,
    "width": 320,
    "height": 180,
    "fps": 24.0,
    "limit": "bandwidth",
    "audio_kbps": 34.2,
    "rtt_ms": 85.0,
    "loss": 0.02,
    "available_kbps": 230.0,
    "active": True,
}


# -- parsing -----------------------------------------------------------------------------
def test_uplink_stats_parse_into_a_typed_report() -> None:
    msg = m.parse(json.dumps(STATS))
    assert msg == m.UplinkStats(180.5, 320, 180, 24.0, "bandwidth", 34.2, 85.0, 0.02, 230.0, True)
    # Every number may be unknown yet: the first sample of a new connection has few.
    assert m.parse('{"type": "uplink-stats"}') == m.UplinkStats()


@pytest.mark.parametrize(
    "field,value",
    [
        ("video_kbps", -1),
        ("video_kbps", 1e9),
        ("width", 99_999),
        ("height", 240.5),
        ("height", True),
        ("fps", "30"),
        ("loss", 1.5),
        ("rtt_ms", 120_000),
        ("limit", "weather"),
        ("active", "yes"),
    ],
)
def test_uplink_stats_out_of_bounds_are_refused(field: str, value: Any) -> None:
    with pytest.raises(m.MessageError) as info:
        m.parse(json.dumps(STATS | {field: value}))
    assert info.value.code == "invalid" and field in info.value.message


def test_photo_mode_needs_on_true_or_false() -> None:
    assert m.parse('{"type": "photo-mode", "on": true}') == m.PhotoMode(True)
    with pytest.raises(m.MessageError):
        m.parse('{"type": "photo-mode", "on": 1}')
    with pytest.raises(m.MessageError):
        m.parse('{"type": "photo-mode"}')


# -- the verdict ---------------------------------------------------------------------------
def test_receiver_view_is_the_interval_between_two_samples() -> None:
    before = ReceiverSample(
        10.0, frames=100, bytes=50_000, keyframes=1, gaps=0, packets_received=500, packets_lost=0
    )
    after = ReceiverSample(
        12.0, frames=130, bytes=100_000, keyframes=2, gaps=1, packets_received=590, packets_lost=10
    )
    view = receiver_view(before, after)
    assert view is not None
    assert (view.video_kbps, view.fps, view.keyframes, view.gaps) == (200.0, 15.0, 1, 1)
    assert view.loss == pytest.approx(10 / 100)
    assert receiver_view(before, ReceiverSample(10.1, 100, 50_000, 1, 0)) is None  # too short to say


def test_the_floor_prefers_what_reached_the_server() -> None:
    phone = m.UplinkStats(video_kbps=900, width=640, height=360, fps=30)
    assert below_floor(phone, None) == []
    assert (
        below_floor(m.UplinkStats(video_kbps=40, height=360, fps=30, limit="none"), None) == []
    )  # a still scene
    assert below_floor(m.UplinkStats(video_kbps=120, height=180, fps=4, limit="bandwidth"), None) == [
        "bitrate",
        "frame_rate",
        "resolution",
    ]
    view = receiver_view(ReceiverSample(0, 0, 0, 0, 0), ReceiverSample(2, 10, 25_000, 0, 0))
    phone = m.UplinkStats(video_kbps=900, width=640, height=360, fps=30, limit="bandwidth")
    assert below_floor(phone, view) == ["bitrate", "frame_rate"]  # the phone sends, little arrives


def test_weak_only_after_several_samples_and_clears_with_hysteresis() -> None:
    monitor = UplinkMonitor()
    verdicts = [monitor.judge(["bitrate"], True) for _ in range(WEAK_AFTER)]
    assert verdicts == [False] * (WEAK_AFTER - 1) + [True]
    verdicts = [monitor.judge([], True) for _ in range(CLEAR_AFTER)]
    assert verdicts == [True] * (CLEAR_AFTER - 1) + [False]
    for _ in range(WEAK_AFTER):
        monitor.judge(["resolution"], True)
    assert monitor.weak
    # Paused on purpose (photo mode, a break): no video is not a weak link.
    assert monitor.judge(["bitrate"], False) is False and monitor.below == []


# -- over the socket -----------------------------------------------------------------------
async def joined(
    server: LiveServer, audit_id: str, token: str | None = None, bearer: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    ws = await websockets.connect(server.ws_url(audit_id), additional_headers=headers)
    join: dict[str, Any] = {"type": "join"} | ({"token": token} if token else {})
    await ws.send(json.dumps(join))
    await next_of(ws, "welcome")
    return ws


async def test_uplink_goes_to_the_auditors_only(server: LiveServer, api_token: str) -> None:
    audit_id, invite = await pair(server, api_token)
    async with server.client(api_token) as http:
        second = await new_invite(http, audit_id, label="Second phone")
    auditor = await joined(server, audit_id, bearer=api_token)
    staff = await joined(server, audit_id, token=invite["token"])
    other_phone = await joined(server, audit_id, token=second["token"])
    try:
        await staff.send(json.dumps(STATS))
        uplink = await next_of(auditor, "uplink")
        assert uplink["name"] == "Rahim" and uplink["phone"]["height"] == 180
        assert uplink["phone"]["limit"] == "bandwidth" and uplink["weak"] is False  # one sample
        assert uplink["server"] is None  # no media connection: the server has nothing to add
        assert uplink["photo_mode"] is False and uplink["floor"]["height"] == 240
        # Neither phone hears of it: the next thing each gets is its own answer.
        for phone in (staff, other_phone):
            await phone.send(json.dumps({"type": "ping"}))
            assert (await next_of_any(phone))["type"] == "pong"
        # Faster than a report a second: refused, the socket stays.
        await staff.send(json.dumps(STATS))
        refused = await next_of(staff, "error")
        assert refused["code"] == "rate_limited" and refused["retry_after_ms"] > 0
        # Only phones report uplinks; bad numbers are refused without closing anything.
        await auditor.send(json.dumps(STATS))
        assert (await next_of(auditor, "error"))["code"] == "forbidden"
        await staff.send(json.dumps(STATS | {"loss": 7}))
        assert (await next_of(staff, "error"))["code"] == "invalid"
    finally:
        for ws in (auditor, staff, other_phone):
            await ws.close()


async def next_of_any(ws: Any) -> dict[str, Any]:
    """The next message that is not presence chatter."""
    while True:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if not msg["type"].startswith("participant-") and msg["type"] not in ("media", "checkpoint"):
            return msg


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return encode_clip(frames=60, width=320, height=180, gop=30)


async def test_the_server_adds_its_own_receiver_view(
    server: LiveServer, api_token: str, clip: EncodedClip
) -> None:
    from server.media.client import ParticipantClient

    audit_id, invite = await pair(server, api_token)
    auditor = await joined(server, audit_id, bearer=api_token)
    phone = ParticipantClient(
        server.ws_url(audit_id), token=invite["token"], video=ClipReplayTrack(clip), audio=ToneTrack()
    )
    await phone.connect()
    try:
        await asyncio.wait_for(phone.media_live.wait(), 10)
        await phone.send(STATS)
        await next_of(auditor, "uplink")
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            await asyncio.sleep(1.1)  # the protocol's minimum spacing of reports, not a wait for a signal
            await phone.send(STATS)
            uplink = await next_of(auditor, "uplink")
            if uplink["server"] is not None or asyncio.get_running_loop().time() > deadline:
                break
        server_view = uplink["server"]
        assert server_view is not None, "the server never added its receiver view"
        assert server_view["fps"] > 5 and server_view["video_kbps"] > 0
        assert server_view["loss"] is None or 0 <= server_view["loss"] <= 1
    finally:
        await phone.close()
        await auditor.close()


async def test_photo_mode_is_switched_by_who_runs_the_audit(server: LiveServer, api_token: str) -> None:
    audit_id, invite = await pair(server, api_token)
    auditor = await joined(server, audit_id, bearer=api_token)
    staff = await joined(server, audit_id, token=invite["token"])
    try:
        await staff.send(json.dumps({"type": "photo-mode", "on": True}))
        assert (await next_of(staff, "error"))["code"] == "forbidden"
        await auditor.send(json.dumps({"type": "photo-mode", "on": True}))
        on = await next_of(staff, "photo-mode")
        assert on["on"] is True and on["by"] == "Ada Auditor"
        assert (await next_of(auditor, "photo-mode"))["on"] is True
        # A phone that rejoins is told at once.
        await staff.close()
        staff = await joined(server, audit_id, token=invite["token"])
        assert (await next_of(staff, "photo-mode"))["on"] is True
        await auditor.send(json.dumps({"type": "photo-mode", "on": False}))
        assert (await next_of(staff, "photo-mode"))["on"] is False
    finally:
        await auditor.close()
        await staff.close()
    events = await ledger(server, api_token, audit_id)
    switches = [e for e in events if e["kind"] == "photo-mode"]
    assert [e["data"]["on"] for e in switches] == [True, False]


async def test_a_reviewer_watching_cannot_switch_photo_mode(server: LiveServer) -> None:
    parties = await make_parties(server)
    async with parties.client("lead") as http:
        audit_id = await new_audit(http)
    reviewer = await joined(server, audit_id, bearer=parties.tokens["reviewer"])
    try:
        await reviewer.send(json.dumps({"type": "photo-mode", "on": True}))
        assert (await next_of(reviewer, "error"))["code"] == "forbidden"
        lead = await joined(server, audit_id, bearer=parties.tokens["lead"])
        try:
            server.app_ctx().sockets.sealing.add(audit_id)  # the audit is being completed
            await lead.send(json.dumps({"type": "photo-mode", "on": True}))
            assert (await next_of(lead, "error"))["code"] == "audit_completed"
        finally:
            await lead.close()
    finally:
        await reviewer.close()
