"""The phone's photo-queue report: validated at the edge, passed to the auditors only."""

from __future__ import annotations

import asyncio
import json

import pytest

from server.signaling import messages as m
from tests.support import LiveServer
from tests.test_guided_signaling import next_of
from tests.test_staff_controls import joined, pair


def test_a_queue_report_parses() -> None:
    msg = m.parse(json.dumps({"type": "photo-queue", "count": 2, "bytes": 5_000_000, "oldest_s": 42.5}))
    assert msg == m.PhotoQueue(2, 5_000_000, 42.5)
    assert m.parse('{"type": "photo-queue", "count": 0, "bytes": 0, "oldest_s": null}') == m.PhotoQueue(
        0, 0, None
    )


def test_a_queue_report_may_list_its_photos() -> None:
    hashes = ["a" * 64, "0123456789abcdef" * 4]
    report = {"type": "photo-queue", "count": 2, "bytes": 10, "oldest_s": 1, "sha256s": hashes}
    assert m.parse(json.dumps(report)) == m.PhotoQueue(2, 10, 1.0, tuple(hashes))
    empty = {"type": "photo-queue", "count": 0, "bytes": 0, "oldest_s": None, "sha256s": []}
    assert m.parse(json.dumps(empty)) == m.PhotoQueue(0, 0, None, ())


@pytest.mark.parametrize(
    "body",
    [
        {"count": 2, "bytes": 10, "oldest_s": 1, "sha256s": ["a" * 64]},  # fewer than the count
        {"count": 1, "bytes": 10, "oldest_s": 1, "sha256s": ["A" * 64]},
        {"count": 1, "bytes": 10, "oldest_s": 1, "sha256s": ["a" * 63]},
        {"count": 1, "bytes": 10, "oldest_s": 1, "sha256s": "a" * 64},
        {"count": 1, "bytes": 10, "oldest_s": 1, "sha256s": [7]},
        {"count": 501, "bytes": 10, "oldest_s": 1, "sha256s": ["a" * 64] * 501},
    ],
)
def test_a_bad_photo_list_is_invalid(body: dict[str, object]) -> None:
    with pytest.raises(m.MessageError) as refused:
        m.parse(json.dumps({"type": "photo-queue", **body}))
    assert refused.value.code == "invalid"
    assert "sha256s" in refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"count": -1, "bytes": 0, "oldest_s": None},
        {"count": 1001, "bytes": 0, "oldest_s": 1},
        {"count": True, "bytes": 0, "oldest_s": 1},
        {"count": 1.5, "bytes": 0, "oldest_s": 1},
        {"count": 1, "bytes": 1 << 41, "oldest_s": 1},
        {"count": 1, "bytes": 10, "oldest_s": None},
        {"count": 0, "bytes": 0, "oldest_s": 3},
        {"count": 1, "bytes": 10, "oldest_s": -5},
        {"count": 1, "bytes": 10, "oldest_s": "soon"},
    ],
)
def test_a_bad_queue_report_is_invalid(body: dict[str, object]) -> None:
    with pytest.raises(m.MessageError) as refused:
        m.parse(json.dumps({"type": "photo-queue", **body}))
    assert refused.value.code == "invalid"


async def test_the_auditors_hear_of_the_phone_queue_and_nobody_else(
    server: LiveServer, api_token: str
) -> None:
    audit_id, invite = await pair(server, api_token)
    async with joined(server, api_token, audit_id, invite) as (auditor, staff, phone):
        await staff.send(json.dumps({"type": "photo-queue", "count": 2, "bytes": 4_200_000, "oldest_s": 75}))
        report = await next_of(auditor, "photo-queue")
        assert report == {
            "type": "photo-queue",
            "participant_id": phone["id"],
            "from": "Rahim",
            "count": 2,
            "bytes": 4_200_000,
            "oldest_s": 75.0,
        }
        # Bad input is refused on that socket alone, which stays open.
        await staff.send(json.dumps({"type": "photo-queue", "count": "two", "bytes": 0, "oldest_s": None}))
        assert (await next_of(staff, "error"))["code"] == "invalid"
        await staff.send(json.dumps({"type": "photo-queue", "count": 0, "bytes": 0, "oldest_s": None}))
        assert (await next_of(auditor, "photo-queue"))["count"] == 0
        # Only a phone reports a queue, and the report is not echoed to the phones.
        await auditor.send(json.dumps({"type": "photo-queue", "count": 1, "bytes": 1, "oldest_s": 1}))
        assert (await next_of(auditor, "error"))["code"] == "forbidden"
        await staff.send(json.dumps({"type": "ping"}))
        seen = []
        while (msg := json.loads(await asyncio.wait_for(staff.recv(), 5)))["type"] != "pong":
            seen.append(msg["type"])
        assert "photo-queue" not in seen
