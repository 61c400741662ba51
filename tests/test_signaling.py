"""The signaling WebSocket: authentication and bad input, against a real server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
import websockets
from sqlalchemy import update

from server.db.models import Invite
from tests.support import LiveServer, new_audit, new_invite


async def exchange(ws: Any, message: dict[str, Any] | str) -> dict[str, Any]:
    await ws.send(message if isinstance(message, str) else json.dumps(message))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return reply


async def expect_refused(
    server: LiveServer, audit_id: str, join: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    async with websockets.connect(server.ws_url(audit_id), **kw) as ws:
        reply = await exchange(ws, join)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    return reply


async def test_auditor_joins_with_bearer_token(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "Hanoi Electronics")
    headers = {"Authorization": f"Bearer {api_token}"}
    async with websockets.connect(server.ws_url(audit_id), additional_headers=headers) as ws:
        welcome = await exchange(ws, {"type": "join"})
        assert welcome["type"] == "welcome"
        assert welcome["participant"]["role"] == "auditor"
        assert welcome["participant"]["name"] == "Ada Auditor"
        assert welcome["audit"]["facility"]["name"] == "Hanoi Electronics"
        assert welcome["ice_servers"] == []
        assert json.loads(await ws.recv()) == {"type": "media", "state": "waiting"}
        assert json.loads(await ws.recv()) == {"type": "checkpoint", "checkpoint": None}
        assert json.loads(await ws.recv()) == {"type": "cameras", "cameras": [], "max": 2}
        assert await exchange(ws, {"type": "ping"}) == {"type": "pong"}


async def test_anonymous_auditor_is_refused(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
    reply = await expect_refused(server, audit_id, {"type": "join"})
    assert reply["code"] == "unauthorized"


async def test_wrong_expired_revoked_and_foreign_tokens(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_a = await new_audit(http, "A")
        audit_b = await new_audit(http, "B")
        for_a = await new_invite(http, audit_a)
        revoked = await new_invite(http, audit_a)
        await http.delete(f"/api/audits/{audit_a}/invites/{revoked['id']}")
        expired = await new_invite(http, audit_a)
    async with server.app_ctx().db.session() as s:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        await s.execute(update(Invite).where(Invite.id == expired["id"]).values(expires_at=past))
        await s.commit()
    for token in ("made-up-token", revoked["token"], expired["token"]):
        reply = await expect_refused(server, audit_a, {"type": "join", "token": token})
        assert reply["message"] == "this invite link is invalid, expired or revoked"
    reply = await expect_refused(server, audit_b, {"type": "join", "token": for_a["token"]})
    # Same answer as a bad invite: the socket does not reveal which audits exist.
    assert reply["message"] == "this invite link is invalid, expired or revoked"
    # The valid one still works after all of that.
    async with websockets.connect(server.ws_url(audit_a)) as ws:
        welcome = await exchange(ws, {"type": "join", "token": for_a["token"]})
        assert welcome["participant"]["role"] == "staff"


async def test_unknown_audit_closes_with_4404_when_signed_in(server: LiveServer, api_token: str) -> None:
    headers = {"Authorization": f"Bearer {api_token}"}
    async with websockets.connect(server.ws_url("no-such-audit"), additional_headers=headers) as ws:
        reply = json.loads(await ws.recv())
        assert reply["code"] == "not_found"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


async def test_anonymous_sockets_learn_nothing_about_audit_ids(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        real = await new_audit(http)
    answers = []
    for audit_id in (real, "no-such-audit"):
        async with websockets.connect(server.ws_url(audit_id)) as ws:
            reply = await exchange(ws, {"type": "join", "token": "x" * 22})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            answers.append((reply, closed.value.rcvd.code))
    assert answers[0] == answers[1]
    assert answers[0][1] == 4401


async def test_bad_messages_get_errors_and_the_socket_survives(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    async with websockets.connect(server.ws_url(audit_id)) as ws:
        assert (await exchange(ws, {"type": "offer", "sdp": "v=0"}))["code"] == "not_joined"
        await exchange(ws, {"type": "join", "token": invite["token"]})
        await ws.recv()  # media state
        await ws.recv()  # current checkpoint
        assert (await exchange(ws, "{oops"))["code"] == "bad_json"
        assert (await exchange(ws, {"type": "teleport"}))["code"] == "unknown_type"
        assert (await exchange(ws, {"type": "candidate", "candidate": {"candidate": "x"}}))[
            "code"
        ] == "invalid"
        big = json.dumps({"type": "offer", "sdp": "v=0" + "x" * 100_000})
        assert (await exchange(ws, big))["code"] == "too_large"
        garbage = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video nonsense\r\n"}
        assert (await exchange(ws, garbage))["code"] == "consent_required"
        assert await exchange(ws, {"type": "consent", "accepted": True}) == {
            "type": "consent-recorded",
            "accepted": True,
        }
        reply = await exchange(ws, garbage)
        assert reply["code"] == "bad_sdp" and reply["message"]
        await ws.send(b"\x00\x01binary")
        assert json.loads(await ws.recv())["code"] == "bad_json"
        assert await exchange(ws, {"type": "ping"}) == {"type": "pong"}


async def test_other_participants_are_unaffected_by_a_misbehaving_one(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    headers = {"Authorization": f"Bearer {api_token}"}
    async with websockets.connect(server.ws_url(audit_id), additional_headers=headers) as auditor:
        await exchange(auditor, {"type": "join"})
        await auditor.recv()  # media state
        await auditor.recv()  # current checkpoint
        await auditor.recv()  # cameras
        async with websockets.connect(server.ws_url(audit_id)) as staff:
            await exchange(staff, {"type": "join", "token": invite["token"]})
            assert json.loads(await staff.recv())["type"] == "media"
            assert json.loads(await staff.recv())["type"] == "checkpoint"
            joined = json.loads(await auditor.recv())
            assert joined["type"] == "participant-joined" and joined["participant"]["role"] == "staff"
            cameras = json.loads(await auditor.recv())
            assert cameras["type"] == "cameras" and [c["label"] for c in cameras["cameras"]] == ["Camera 1"]
            for _ in range(20):
                assert (await exchange(staff, "garbage"))["code"] == "bad_json"
            await staff.send(json.dumps({"type": "media-state", "audio": False, "video": True}))
            updated = json.loads(await asyncio.wait_for(auditor.recv(), 5))
            assert updated["type"] == "participant-updated" and updated["participant"]["audio"] is False
        left = json.loads(await asyncio.wait_for(auditor.recv(), 5))
        assert left == {"type": "participant-left", "participant_id": joined["participant"]["id"]}
        no_camera = {"type": "cameras", "cameras": [], "max": 2}
        assert json.loads(await asyncio.wait_for(auditor.recv(), 5)) == no_camera
        assert await exchange(auditor, {"type": "ping"}) == {"type": "pong"}


async def test_a_socket_that_never_joins_is_closed(
    server: LiveServer, api_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.signaling import endpoint

    monkeypatch.setattr(endpoint, "JOIN_TIMEOUT_S", 0.3)
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
    async with websockets.connect(server.ws_url(audit_id)) as ws:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply["code"] == "join_timeout"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
