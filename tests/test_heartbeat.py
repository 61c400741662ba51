"""The server's side of the heartbeat: a socket that stops answering is closed within 10 s,
and a phone that comes back on a new socket replaces its old one at once (no ghost)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets

from server.signaling.heartbeat import CLOSE_NO_HEARTBEAT, DEAD_AFTER_S
from tests.support import LiveServer, new_audit, new_invite


async def joined(server: LiveServer, audit_id: str, join: dict[str, Any], **kw: Any) -> Any:
    ws = await websockets.connect(server.ws_url(audit_id), **kw)
    await ws.send(json.dumps(join))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert welcome["type"] == "welcome", welcome
    return ws


async def read_until(ws: Any, kind: str, seconds: float, answer_pings: bool = False) -> dict[str, Any]:
    """The next message of type ``kind`` (answering the server's pings on the way if asked)."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind!r} within {seconds} s")
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), left))
        if msg["type"] == kind:
            return msg
        if msg["type"] == "ping" and answer_pings:
            await ws.send(json.dumps({"type": "pong"}))


class Answering:
    """A client that answers the server's pings while the test looks elsewhere."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if msg["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
            else:
                self.inbox.put_nowait(msg)

    async def next_of(self, kind: str, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), max(0.01, deadline - time.monotonic()))
            if msg["type"] == kind:
                return msg

    async def close(self) -> None:
        self.task.cancel()
        await self.ws.close()


async def test_a_socket_that_stops_answering_is_closed_and_leaves_the_room(
    server: LiveServer, api_token: str
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    auth = {"additional_headers": {"Authorization": f"Bearer {api_token}"}}
    auditor = Answering(await joined(server, audit_id, {"type": "join"}, **auth))
    phone = await joined(server, audit_id, {"type": "join", "token": invite["token"]})
    joined_msg = await auditor.next_of("participant-joined", 5)
    phone_id = joined_msg["participant"]["id"]
    last_sent = time.monotonic()
    try:
        # The phone says nothing more: the server asks, then gives up on it.
        ping = await read_until(phone, "ping", 8)
        assert ping == {"type": "ping"}
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await read_until(phone, "never", DEAD_AFTER_S + 5)
        silent_for = time.monotonic() - last_sent
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_NO_HEARTBEAT
        assert silent_for < DEAD_AFTER_S + 3, f"the silent socket was closed only after {silent_for:.1f} s"

        # The auditor answered the server's pings all along: still there, and told the phone left.
        left = await auditor.next_of("participant-left", 5)
        assert left["participant_id"] == phone_id
        await auditor.ws.send(json.dumps({"type": "ping"}))
        assert (await auditor.next_of("pong", 5)) == {"type": "pong"}
    finally:
        await auditor.close()
        await phone.close()


async def test_a_phone_back_on_a_new_socket_replaces_its_old_one(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    auth = {"additional_headers": {"Authorization": f"Bearer {api_token}"}}
    auditor = await joined(server, audit_id, {"type": "join"}, **auth)
    join = {"type": "join", "token": invite["token"], "device": "phone-device-1"}
    old = await joined(server, audit_id, join)
    first = (await read_until(auditor, "participant-joined", 5))["participant"]["id"]
    # The same phone, on a new network, while the server still holds the old socket.
    new = await joined(server, audit_id, join)
    try:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await read_until(old, "never", 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4412
        assert (await read_until(auditor, "participant-left", 5))["participant_id"] == first
        async with server.client(api_token) as http:
            live = (await http.get(f"/api/audits/{audit_id}")).json()["live"]["participants"]
        staff = [p for p in live if p["role"] == "staff"]
        assert len(staff) == 1 and staff[0]["id"] != first, f"a ghost is left in the room: {live}"
        # Another phone (another device) on the same invite is not replaced.
        other = await joined(server, audit_id, join | {"device": "phone-device-2"})
        await new.send(json.dumps({"type": "ping"}))
        assert (await read_until(new, "pong", 5, answer_pings=True)) == {"type": "pong"}
        await other.close()
    finally:
        await auditor.close()
        await new.close()


async def test_a_stale_join_does_not_replace_the_phones_newer_socket(
    server: LiveServer, api_token: str
) -> None:
    """A page reloaded while its socket was connecting: the old socket's join, finished after
    the new page's, must not close the new page's socket (it is the stale one that goes)."""
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    join = {"type": "join", "token": invite["token"], "device": "phone-device-1"}
    current = await joined(server, audit_id, join | {"opened": 1_800_000_002_000})
    stale = await websockets.connect(server.ws_url(audit_id))
    try:
        await stale.send(json.dumps(join | {"opened": 1_800_000_001_000}))
        refused = await read_until(stale, "error", 5)
        assert refused["code"] == "replaced", refused
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await read_until(stale, "never", 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4412
        await current.send(json.dumps({"type": "ping"}))
        assert (await read_until(current, "pong", 5, answer_pings=True)) == {"type": "pong"}
        # A later-opened socket of the same phone still replaces it.
        newer = await joined(server, audit_id, join | {"opened": 1_800_000_003_000})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await read_until(current, "never", 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4412
        await newer.close()
    finally:
        await current.close()
        await stale.close()
