"""What the phone controls over signaling: "Not now" to a photo, pause and resume, consent per device."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

from tests.support import LiveServer, new_audit, new_invite
from tests.test_guided_signaling import next_of


async def ledger(server: LiveServer, api_token: str, audit_id: str) -> list[dict[str, Any]]:
    async with server.client(api_token) as http:
        entries: list[dict[str, Any]] = (await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"]
    return [e for e in entries if e["type"] == "event"]


async def pair(server: LiveServer, api_token: str) -> tuple[str, dict[str, Any]]:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id, label="Rahim")
    return audit_id, invite


@asynccontextmanager
async def joined(
    server: LiveServer, api_token: str, audit_id: str, invite: dict[str, Any]
) -> AsyncIterator[tuple[Any, Any, dict[str, Any]]]:
    """The auditor's socket and the phone's, both welcomed; with the phone's participant."""
    headers = {"Authorization": f"Bearer {api_token}"}
    async with (
        websockets.connect(server.ws_url(audit_id), additional_headers=headers) as auditor,
        websockets.connect(server.ws_url(audit_id)) as staff,
    ):
        await auditor.send(json.dumps({"type": "join"}))
        await next_of(auditor, "welcome")
        await staff.send(json.dumps({"type": "join", "token": invite["token"]}))
        phone: dict[str, Any] = (await next_of(staff, "welcome"))["participant"]
        yield auditor, staff, phone


async def test_a_declined_photo_request_reaches_the_auditor_at_once(
    server: LiveServer, api_token: str
) -> None:
    audit_id, invite = await pair(server, api_token)
    async with joined(server, api_token, audit_id, invite) as (auditor, staff, _):
        await auditor.send(json.dumps({"type": "photo-request", "checkpoint": None}))
        request = await next_of(staff, "photo-request")
        await staff.send(json.dumps({"type": "photo-declined", "request_id": request["request_id"]}))
        declined = await next_of(auditor, "photo-declined")
        assert declined["request_id"] == request["request_id"] and declined["from"] == "Rahim"
        # Only the phone declines photos.
        await auditor.send(json.dumps({"type": "photo-declined", "request_id": None}))
        assert (await next_of(auditor, "error"))["code"] == "forbidden"


async def test_pause_and_resume_are_shown_and_in_the_ledger(server: LiveServer, api_token: str) -> None:
    audit_id, invite = await pair(server, api_token)
    async with joined(server, api_token, audit_id, invite) as (auditor, staff, phone):
        assert phone["paused"] is False
        await staff.send(json.dumps({"type": "pause"}))
        updated = (await next_of(auditor, "participant-updated"))["participant"]
        assert (updated["id"], updated["paused"]) == (phone["id"], True)
        await staff.send(json.dumps({"type": "pause"}))  # said twice: logged once
        await staff.send(json.dumps({"type": "resume"}))
        updated = (await next_of(auditor, "participant-updated"))["participant"]
        assert updated["paused"] is False
        await auditor.send(json.dumps({"type": "pause"}))
        assert (await next_of(auditor, "error"))["code"] == "forbidden"
    events = await ledger(server, api_token, audit_id)
    paused = [(e["kind"], e["actor"]) for e in events if e["kind"] in ("pause", "resume")]
    assert paused == [("pause", f"invite:{invite['id']}"), ("resume", f"invite:{invite['id']}")]


async def test_a_second_device_on_the_same_link_is_asked_for_consent_again(
    server: LiveServer, api_token: str
) -> None:
    audit_id, invite = await pair(server, api_token)

    async def join(device: str) -> Any:
        ws = await websockets.connect(server.ws_url(audit_id))
        await ws.send(json.dumps({"type": "join", "token": invite["token"], "device": device}))
        return ws, (await next_of(ws, "welcome"))["consent"]["required"]

    first, required = await join("phone-one-0001")
    assert required is True
    await first.send(json.dumps({"type": "consent", "accepted": True}))
    assert (await next_of(first, "consent-recorded"))["accepted"] is True
    await first.close()
    again, required = await join("phone-one-0001")
    assert required is False  # the same person on the same phone
    await again.close()
    second, required = await join("tablet-two-0002")
    assert required is True  # the link forwarded to another device: that person is asked
    await second.close()
