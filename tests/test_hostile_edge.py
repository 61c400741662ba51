"""Hostile input against a live server: floods, bombs and forgeries get bounded, clear answers.

Every test also checks the server log: client input is at most a one-line warning, never
a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection

from server.logging_setup import TextFormatter
from server.middleware import security_headers
from server.simcam import EncodedClip, encode_clip
from tests.hostile_inputs import SocketReader
from tests.support import LiveServer, live_server, new_audit, new_invite, streaming_phone

DEVICE = "phone-0123456789abcdef"
NO_STUN = RTCConfiguration(iceServers=[])


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Any:
    """Whatever a test sends, the server log gets no traceback and no multi-line record."""
    caplog.set_level(logging.INFO)
    yield
    for record in caplog.records:
        assert not record.exc_info, f"traceback logged: {record.getMessage()}"
        assert "\n" not in record.getMessage(), f"multi-line log record: {record.getMessage()!r}"


class Client(SocketReader):
    """A signaling socket for tests: waits fail loudly."""

    async def until(self, done: Callable[[list[dict[str, Any]]], bool], seconds: float = 10) -> None:
        async with asyncio.timeout(seconds):
            while not done(self.messages):
                if self.reader.done():
                    raise AssertionError(f"socket closed: {self.ws.close_code}")
                self.arrived.clear()
                await self.arrived.wait()

    async def reply(self, message: dict[str, Any] | str) -> dict[str, Any]:
        count = len(self.messages)
        await self.send(message)
        await self.until(lambda ms: len(ms) > count)
        return self.messages[count]

    def of(self, kind: str, code: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind and (code is None or m.get("code") == code)]


@asynccontextmanager
async def connect(
    server: LiveServer, audit_id: str, join: dict[str, Any] | None = None
) -> AsyncIterator[Client]:
    async with websockets.connect(server.ws_url(audit_id)) as ws:
        client = Client(ws)
        if join is not None:
            await client.send(join)
            await client.until(lambda ms: any(m["type"] == "checkpoint" for m in ms))
        yield client
        assert not client.reader.done(), f"the server closed the socket: {ws.close_code}"


def joined(
    server: LiveServer, audit_id: str, token: str, device: str | None = DEVICE
) -> AbstractAsyncContextManager[Client]:
    join = {"type": "join", "token": token} | ({"device": device} if device else {})
    return connect(server, audit_id, join)


async def ledger_kinds(http: Any, audit_id: str) -> list[str]:
    entries = (await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"]
    return [e.get("kind", e["type"]) for e in entries]


def jpeg() -> bytes:
    image = np.full((120, 160, 3), 90, np.uint8)
    cv2.line(image, (0, 0), (159, 119), (255, 255, 255), 3)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


async def test_consent_spam_makes_one_record_per_device(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    async with joined(server, audit_id, invite["token"]) as phone:
        assert phone.of("welcome")[0]["consent"]["required"] is True
        for _ in range(500):
            await phone.send({"type": "consent", "accepted": True})
        await phone.until(lambda ms: len(ms) >= 3 + 500)
        assert 1 <= len(phone.of("consent-recorded")) <= 40
        limited = phone.of("error", "rate_limited")
        assert len(limited) >= 450 and all(m["retry_after_ms"] > 0 for m in limited)
        await asyncio.sleep(limited[-1]["retry_after_ms"] / 1000)  # the one wait the server asks for
        assert await phone.reply({"type": "ping"}) == {"type": "pong"}
    async with joined(server, audit_id, invite["token"]) as again:  # same phone, later
        assert again.of("welcome")[0]["consent"]["required"] is False
        assert await again.reply({"type": "consent", "accepted": True}) == {
            "type": "consent-recorded",
            "accepted": True,
        }
    async with joined(server, audit_id, invite["token"], device="another-phone-42") as other:
        assert other.of("welcome")[0]["consent"]["required"] is True
        assert (await other.reply({"type": "consent", "accepted": True}))["accepted"] is True
    async with server.client(api_token) as http:
        consents = (await http.get(f"/api/audits/{audit_id}/consents")).json()["items"]
        assert sorted(c["device_id"] for c in consents) == sorted([DEVICE, "another-phone-42"])
        assert (await ledger_kinds(http, audit_id)).count("consent") == 2


async def test_a_reconnect_loop_does_not_fill_the_ledger(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
        before = len(await ledger_kinds(http, audit_id))
        for _ in range(30):
            async with joined(server, audit_id, invite["token"]):
                pass
        kinds = await ledger_kinds(http, audit_id)
    assert kinds.count("join") == kinds.count("leave") == 5
    assert len(kinds) - before == 10


async def test_300_pings_at_once_get_answers_and_the_socket_stays(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    async with joined(server, audit_id, invite["token"]) as phone:
        start = len(phone.messages)
        await asyncio.gather(*(phone.send({"type": "ping"}) for _ in range(300)))
        await phone.until(lambda ms: len(ms) >= start + 300)
        replies = phone.messages[start:]
        pongs = [m for m in replies if m["type"] == "pong"]
        assert len(pongs) >= 20
        assert all(m == {"type": "pong"} or m["code"] == "rate_limited" for m in replies)
        assert phone.ws.close_code is None


async def test_a_client_that_stops_reading_is_closed_with_4008(
    server: LiveServer, api_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.signaling import endpoint
    from server.signaling.outbox import Outbox

    async def stalled(self: Any) -> None:  # as if the client's TCP window stayed shut
        await asyncio.Event().wait()

    monkeypatch.setattr(endpoint, "Outbox", lambda: Outbox(soft=4, hard=8, stall_s=0.3))
    monkeypatch.setattr(endpoint.Connection, "_write", stalled)
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    async with websockets.connect(server.ws_url(audit_id)) as ws:
        await ws.send(json.dumps({"type": "join", "token": invite["token"], "device": DEVICE}))
        for _ in range(3):
            await ws.send(json.dumps({"type": "ping"}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


async def test_outbox_waits_for_room_and_tells_a_stalled_writer() -> None:
    from server.signaling.outbox import Outbox, SlowReader

    box = Outbox(soft=2, hard=3, stall_s=0.2)
    await box.put({"n": 1})
    await box.put({"n": 2})
    waiting = asyncio.create_task(box.put({"n": 3}))
    await asyncio.sleep(0)
    assert not waiting.done()
    assert await box.get() == {"n": 1}  # the writer frees a place: the reply goes in
    await waiting
    box.put_nowait({"n": 4})
    with pytest.raises(SlowReader):
        box.put_nowait({"n": 5})
    with pytest.raises(SlowReader):
        await box.put({"n": 6})


async def test_nested_json_is_refused_on_rest_and_socket(server: LiveServer, api_token: str) -> None:
    bomb = "[" * 30_000 + "]" * 30_000
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        r = await http.post("/api/audits", content=bomb, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
        assert "32" in r.json()["error"]["message"]
        wrapped = '{"facility": ' + "[" * 40 + "]" * 40 + "}"
        json_type = {"content-type": "application/json"}
        assert (await http.post("/api/audits", content=wrapped, headers=json_type)).status_code == 400
    async with connect(server, audit_id) as ws:
        reply = await ws.reply('{"type": "join", "x": ' + bomb + "}")
        assert reply["code"] == "bad_json"
        assert (await ws.reply({"type": "ping"})) == {"type": "pong"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/evidence?limit=%C2%B2", 400),  # ²
        ("/evidence?cursor=%C2%B9", 400),  # ¹
        ("/evidence?limit=99999999999999999999999", 400),
        ("/evidence?cursor=-1", 400),
        ("/recording/99999999999999999999999", 404),
        ("/recording/%C2%B2", 404),
        ("/recording/99999999999999999999999/index", 404),
        ("/replay/segments/99999999999999999999999", 404),
        ("/ledger/consistency?from=%C2%B2&to=1", 400),
    ],
)
async def test_integers_are_parsed_strictly(
    server: LiveServer, api_token: str, path: str, status: int
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        r = await http.get(f"/api/audits/{audit_id}{path}")
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] in ("invalid", "not_found")


async def test_content_length_with_superscript_digits_is_not_a_500(
    server: LiveServer, api_token: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.port)
    body = b'{"facility": {"name": "X", "country": "VN"}}'
    writer.write(
        b"POST /api/audits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + api_token.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: \xc2\xb2\r\n\r\n" + body
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert int(status_line.split()[1]) < 500


async def test_unhandled_errors_are_json_with_security_headers(
    server: LiveServer, api_token: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from server.db import repo

    async def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("internal detail /srv/secret.db")

    monkeypatch.setattr(repo, "list_audits", broken)
    async with server.client(api_token) as http:
        api = await http.get("/api/audits")
    assert api.status_code == 500 and api.json()["error"]["code"] == "internal"
    assert "secret" not in api.text
    for name, value in security_headers(server.settings):
        assert api.headers[name.decode()] == value.decode()
    errors = [r for r in caplog.records if r.name == "virtual_audit.errors"]
    assert errors and "RuntimeError" in errors[0].getMessage() and not errors[0].exc_info


async def test_html_error_page_for_pages(
    server: LiveServer, api_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server import pages

    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(pages, "login_context", broken)
    async with server.client() as http:
        r = await http.get("/login")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-frame-options"] == "DENY" and "boom" not in r.text


async def test_a_newline_in_a_path_forges_no_log_line(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    forged = '127.0.0.1 "GET /api/audits" 200 1.0ms'
    async with server.client() as http:
        await http.get("/nowhere%0a" + forged.replace(" ", "%20").replace('"', "%22"))
    access = [r for r in caplog.records if r.name == "virtual_audit.access"]
    assert access and all("\n" not in r.getMessage() for r in access)
    assert any("\\n127.0.0.1" in r.getMessage() for r in access)
    raw = logging.makeLogRecord({"msg": "GET /a\n%s", "args": (forged,)})
    assert "\n" not in TextFormatter("%(message)s").format(raw)


async def test_invite_links_ignore_the_host_header(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        r = await http.post(f"/api/audits/{audit_id}/invites", json={}, headers={"Host": "evil.example"})
    assert r.status_code == 201
    assert r.json()["url"].startswith(f"http://127.0.0.1:{server.settings.port}/join/")
    assert "evil" not in r.json()["qr_svg"]


async def test_invite_links_use_the_public_url(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data", public_url="https://audit.example.org/") as server:
        token = await server.create_user()
        async with server.client(token) as http:
            audit_id = await new_audit(http)
            r = await http.post(f"/api/audits/{audit_id}/invites", json={}, headers={"Host": "evil.example"})
    assert r.json()["url"].startswith("https://audit.example.org/join/")


async def test_the_data_dir_is_private_after_a_recording(tmp_path: Path) -> None:
    clip: EncodedClip = encode_clip(frames=60, width=320, height=180, gop=15)
    async with live_server(tmp_path / "data", segment_seconds=0.5) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            async with streaming_phone(server, http, clip, "Private Ltd") as (audit_id, _phone):
                async with asyncio.timeout(15):
                    while not (await http.get(f"/api/audits/{audit_id}/recording")).json()["segments"]:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
            assert (await http.post(f"/api/audits/{audit_id}/invites", json={})).status_code == 201
    data = tmp_path / "data"
    suffixes = {p.suffix for p in data.rglob("*")}
    assert {".db", ".webm", ".jsonl", ".jpg"} <= suffixes
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


async def test_3000_candidates_are_bounded(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    pc = RTCPeerConnection(NO_STUN)  # aiortc would otherwise ask a public STUN server
    pc.addTransceiver("audio", direction="sendrecv")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        async with joined(server, audit_id, invite["token"]) as phone:
            await phone.reply({"type": "consent", "accepted": True})
            assert (await phone.reply({"type": "offer", "sdp": pc.localDescription.sdp}))["type"] == "answer"
            start, cpu = len(phone.messages), time.process_time()
            for i in range(3000):
                # Loopback only (this server listens there): its connectivity checks stay on this machine.
                line = f"candidate:{i} 1 udp 2122260223 127.0.{i // 250}.{i % 250 + 1} {40000 + i} typ host"
                await phone.send({"type": "candidate", "candidate": {"candidate": line, "sdpMLineIndex": 0}})
            await phone.until(lambda ms: len(ms) >= start + 2950, 30)
            assert time.process_time() - cpu < 3.0  # server and this client together
            codes = {m["code"] for m in phone.messages[start:]}
            assert codes <= {"too_many_candidates", "rate_limited"}
            assert len(phone.of("error", "too_many_candidates")) >= 1
            assert await phone.reply({"type": "media-state", "audio": True, "video": True}) is not None
    finally:
        await pc.close()


async def test_loopback_and_link_local_candidates_are_refused_on_a_public_server() -> None:
    from server.media.candidates import CandidateRefused
    from server.media.peer import PeerSession

    pc = RTCPeerConnection(NO_STUN)
    pc.addTransceiver("audio", direction="sendrecv")
    offer = RTCPeerConnection(NO_STUN)
    offer.addTransceiver("audio", direction="sendrecv")
    await offer.setLocalDescription(await offer.createOffer())
    try:
        from aiortc import RTCSessionDescription

        await pc.setRemoteDescription(RTCSessionDescription(offer.localDescription.sdp, "offer"))
        session = PeerSession(pc)
        for address in ("127.0.0.1", "::1", "169.254.1.2", "fe80::1", "0.0.0.0", "::ffff:127.0.0.1"):
            line = f"candidate:1 1 udp 2122260223 {address} 45678 typ host"
            with pytest.raises(CandidateRefused) as refused:
                await session.add_candidate({"candidate": line, "sdpMLineIndex": 0})
            assert refused.value.code == "candidate_refused"
        lan = "candidate:1 1 udp 1 192.168.1.20 45678 typ host"
        await session.add_candidate({"candidate": lan, "sdpMid": "0"})
        await session.add_candidate(
            {"candidate": "candidate:1 1 udp 1 127.0.0.1 45679 typ host", "sdpMid": "0"}, allow_loopback=True
        )
    finally:
        await pc.close()
        await offer.close()


async def test_the_baseline_audit_is_unchanged_by_an_attack(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        baseline = await new_audit(http, "Baseline Co")
        invite = await new_invite(http, baseline)
        auth = {"Authorization": f"Invite {invite['token']}"}
        r = await http.post(
            f"/api/audits/{baseline}/photos", files={"file": ("a.jpg", jpeg(), "image/jpeg")}, headers=auth
        )
        assert r.status_code == 201
        long = await http.post(
            f"/api/audits/{baseline}/photos",
            files={"file": ("a.jpg", jpeg(), "image/jpeg")},
            data={"checkpoint": "x" * 5_000_000},
            headers=auth,
        )
        assert long.status_code in (413, 422)
        evidence = (await http.get(f"/api/audits/{baseline}/evidence")).json()
        ledger = (await http.get(f"/api/audits/{baseline}/ledger")).json()["entries"]
        victim = await new_audit(http, "Victim Co")
        attacker = await new_invite(http, victim)
        async with joined(server, victim, attacker["token"]) as ws:
            for _ in range(200):
                await ws.send({"type": "consent", "accepted": True})
            await ws.send("[" * 40_000)
            await ws.until(lambda ms: len(ms) >= 3 + 201)
        assert (await http.get(f"/api/audits/{baseline}/evidence")).json() == evidence
        assert (await http.get(f"/api/audits/{baseline}/ledger")).json()["entries"] == ledger
        assert (await http.get(f"/api/audits/{baseline}")).status_code == 200


def test_data_dir_helpers_tighten_an_old_tree(tmp_path: Path) -> None:
    from server import datadir

    old = tmp_path / "data"
    (old / "evidence" / "a").mkdir(parents=True, mode=0o755)
    (old / "evidence" / "a" / "still.jpg").write_bytes(b"x")
    os.chmod(old / "evidence" / "a" / "still.jpg", 0o644)
    datadir.prepare(old)
    assert stat.S_IMODE((old / "evidence" / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((old / "evidence" / "a" / "still.jpg").stat().st_mode) == 0o600
    assert stat.S_IMODE((old / datadir.DATABASE_FILE).stat().st_mode) == 0o600
