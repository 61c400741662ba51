"""Directing the walk over signaling: checkpoints in the phone's language, pointer, photo requests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from server.checklists import builtin_templates
from tests.support import LiveServer, new_invite


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of a type, skipping presence and media chatter."""
    while True:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if msg["type"] == kind:
            return msg


async def test_auditor_directs_and_the_phone_follows_in_its_language(
    server: LiveServer, api_token: str
) -> None:
    template = builtin_templates()["container-7-point"]
    async with server.client(api_token) as http:
        r = await http.post(
            "/api/audits",
            json={"facility": {"name": "Port", "country": "VN"}, "template": "container-7-point"},
        )
        audit_id = r.json()["id"]
        invite = await new_invite(http, audit_id)
    headers = {"Authorization": f"Bearer {api_token}"}
    async with (
        websockets.connect(server.ws_url(audit_id), additional_headers=headers) as auditor,
        websockets.connect(server.ws_url(audit_id)) as staff,
    ):
        await auditor.send(json.dumps({"type": "join"}))
        welcome = await next_of(auditor, "welcome")
        assert welcome["consent"]["required"] is True and welcome["consent"]["notice"]
        assert (await next_of(auditor, "checkpoint"))["checkpoint"] is None
        await staff.send(json.dumps({"type": "join", "token": invite["token"], "lang": "vi-VN"}))
        assert (await next_of(staff, "checkpoint"))["checkpoint"] is None

        await auditor.send(json.dumps({"type": "goto", "key": "front-wall"}))
        on_phone = (await next_of(staff, "checkpoint"))["checkpoint"]
        assert on_phone["instruction"] == template.instruction("front-wall", "vi")
        assert on_phone["instruction"] != template.instruction("front-wall", "en")
        assert (on_phone["index"], on_phone["total"]) == (0, len(template.checkpoints()))
        assert "guidance" not in on_phone
        on_console = (await next_of(auditor, "checkpoint"))["checkpoint"]
        assert on_console["criteria"] == ["5.3"] and on_console["guidance"]

        await auditor.send(json.dumps({"type": "pointer", "x": 0.25, "y": 0.75}))
        pointer = await next_of(staff, "pointer")
        assert (pointer["x"], pointer["y"]) == (0.25, 0.75)
        await auditor.send(json.dumps({"type": "photo-request", "checkpoint": "front-wall"}))
        request = await next_of(staff, "photo-request")
        assert request["checkpoint"] == "front-wall" and request["request_id"]

        await staff.send(json.dumps({"type": "goto", "key": "floor"}))
        assert (await next_of(staff, "error"))["code"] == "forbidden"
        await auditor.send(json.dumps({"type": "goto", "key": "no-such-point"}))
        assert (await next_of(auditor, "error"))["code"] == "not_found"
        await auditor.send(json.dumps({"type": "pointer", "x": 2, "y": 0}))
        assert (await next_of(auditor, "error"))["code"] == "invalid"

    async with server.client(api_token) as http:
        view = (await http.get(f"/api/audits/{audit_id}/checkpoints")).json()
    assert view["current"] == "front-wall"


async def test_consent_is_logged_once_per_person(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/audits", json={"facility": {"name": "Port", "country": "VN"}})
        audit_id = r.json()["id"]
        invite = await new_invite(http, audit_id)
    location = {"lat": 10.98, "lon": 106.65, "accuracy": 25}
    async with websockets.connect(server.ws_url(audit_id)) as staff:
        await staff.send(json.dumps({"type": "join", "token": invite["token"]}))
        assert (await next_of(staff, "welcome"))["consent"]["required"] is True
        await staff.send(json.dumps({"type": "consent", "accepted": True, "location": location}))
        assert (await next_of(staff, "consent-recorded"))["accepted"] is True
    # Rejoining with the same invite does not ask again.
    async with websockets.connect(server.ws_url(audit_id)) as staff:
        await staff.send(json.dumps({"type": "join", "token": invite["token"]}))
        assert (await next_of(staff, "welcome"))["consent"]["required"] is False
    async with server.client(api_token) as http:
        items = (await http.get(f"/api/audits/{audit_id}/consents")).json()["items"]
    assert [(i["role"], i["location"]) for i in items] == [("staff", location)]
