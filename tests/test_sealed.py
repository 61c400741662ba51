"""Completion seals an audit; revoking access ends live sessions within 2 s."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import websockets
from sqlalchemy import update

from server.db.models import Invite
from server.media.client import ParticipantClient
from server.simcam import EncodedClip, encode_clip
from tests.parties import jpeg
from tests.support import COMPLETE_ANYWAY, LiveServer, new_invite, streaming_phone

DEADLINE_S = 2.0


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return encode_clip(frames=60, width=320, height=240, gop=30)


async def participants(http: Any, audit_id: str) -> list[dict[str, Any]]:
    return list((await http.get(f"/api/audits/{audit_id}")).json()["live"]["participants"])


async def test_completion_disconnects_everyone_and_is_the_last_ledger_entry(
    server: LiveServer, api_token: str, clip: EncodedClip
) -> None:
    async with (
        server.client(api_token) as http,
        streaming_phone(server, http, clip, "Sealed Factory") as (audit_id, phone),
    ):
        auditor = ParticipantClient(
            server.ws_url(audit_id), headers={"Authorization": f"Bearer {api_token}"}, receive_video=True
        )
        await auditor.connect()
        try:
            r = await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
            assert r.status_code == 200, r.text
            # Completion answers only once everyone is out: no waiting needed, but allow the socket's close.
            await asyncio.wait_for(asyncio.gather(phone.closed.wait(), auditor.closed.wait()), DEADLINE_S)
            assert phone.close_code == auditor.close_code == 4409
            ended = [m for m in phone.messages if m.get("type") == "audit-completed"]
            assert ended and ended[-1]["message"] == "This audit is finished. Thank you."
            assert await participants(http, audit_id) == []
        finally:
            await auditor.close()
        ledger = (await http.get(f"/api/audits/{audit_id}/ledger")).json()
        last = ledger["entries"][-1]
        assert last["type"] == "event" and last["kind"] == "complete"
        assert ledger["tree_heads"][-1]["size"] == len(ledger["entries"])
        # The recording's last segment was closed before the completion, so it is in the record.
        segments = (await http.get(f"/api/audits/{audit_id}/recording")).json()["segments"]
        assert segments and any(e["type"] == "segment" for e in ledger["entries"])
        # A phone coming back finds the audit finished.
        again = ParticipantClient(server.ws_url(audit_id), token=phone.token)
        with pytest.raises(ConnectionError, match="audit_completed"):
            await again.connect(timeout=5)
        await again.close()


WRITES = [
    ("POST", "/api/audits/{id}/invites", {}),
    ("POST", "/api/audits/{id}/captures", {}),
    ("PUT", "/api/audits/{id}/current", {"key": None}),
    ("PUT", "/api/audits/{id}/checkpoints/{key}", {"result": "meets"}),
    ("POST", "/api/audits/{id}/complete", {"confirm_open": True}),
    (
        "POST",
        "/api/evidence/{evidence}/annotations",
        {"shapes": [{"type": "circle", "x": 0.5, "y": 0.5, "r": 0.1}]},
    ),
    ("DELETE", "/api/audits/{id}/invites/{invite}", None),
    ("POST", "/api/audits/{id}/assignments", {"user": "x"}),
]


async def test_every_write_after_completion_is_409(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/audits", json={"facility": {"name": "Done", "country": "VN"}})
        audit_id = r.json()["id"]
        invite = await new_invite(http, audit_id)
        staff = {"Authorization": f"Invite {invite['token']}"}
        photo = await http.post(
            f"/api/audits/{audit_id}/photos", files={"file": ("a.jpg", jpeg(), "image/jpeg")}, headers=staff
        )
        assert photo.status_code == 201
        view = (await http.get(f"/api/audits/{audit_id}/checkpoints")).json()
        key = view["sections"][0]["checkpoints"][0]["key"]
        assert (
            await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
        ).status_code == 200
        entries = len((await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"])
        for method, template, body in WRITES:
            path = (
                template.replace("{id}", audit_id)
                .replace("{key}", key)
                .replace("{evidence}", photo.json()["id"])
                .replace("{invite}", invite["id"])
            )
            r = await http.request(method, path, json=body)
            assert r.status_code == 409, (method, template, r.text)
            assert r.json()["error"]["code"] == "audit_completed", (method, template)
        photo_again = await http.post(
            f"/api/audits/{audit_id}/photos",
            files={"file": ("b.jpg", jpeg("b"), "image/jpeg")},
            headers=staff,
        )
        assert photo_again.status_code == 409 and photo_again.json()["error"]["code"] == "audit_completed"
        check = await http.post("/api/tech-check", json={"camera": True}, headers=staff)
        assert check.status_code == 409 and check.json()["error"]["code"] == "audit_completed"
        # Nothing was appended to the sealed ledger.
        assert len((await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"]) == entries


async def test_revoking_an_invite_disconnects_that_phone(
    server: LiveServer, api_token: str, clip: EncodedClip
) -> None:
    async with (
        server.client(api_token) as http,
        streaming_phone(server, http, clip, "Revoked Factory") as (audit_id, phone),
    ):
        invites = (await http.get(f"/api/audits/{audit_id}/invites")).json()["items"]
        started = asyncio.get_running_loop().time()
        r = await http.delete(f"/api/audits/{audit_id}/invites/{invites[0]['id']}")
        assert r.status_code == 200
        await asyncio.wait_for(phone.closed.wait(), DEADLINE_S)
        assert asyncio.get_running_loop().time() - started < DEADLINE_S
        assert phone.close_code == 4403
        ended = [m for m in phone.messages if m.get("type") == "access-ended"]
        assert ended and ended[-1]["reason"] == "invite_revoked"
        assert [p for p in await participants(http, audit_id) if p["role"] == "staff"] == []


async def test_an_expired_invite_disconnects_its_phone(
    server: LiveServer, api_token: str, clip: EncodedClip
) -> None:
    async with (
        server.client(api_token) as http,
        streaming_phone(server, http, clip, "Expiring Factory") as (audit_id, phone),
    ):
        async with server.app_ctx().db.session() as s:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await s.execute(update(Invite).where(Invite.audit_id == audit_id).values(expires_at=past))
            await s.commit()
        await asyncio.wait_for(phone.closed.wait(), DEADLINE_S)
        assert phone.close_code == 4403


async def test_revoking_a_users_tokens_from_the_cli_closes_their_sockets(
    server: LiveServer, api_token: str, tmp_path: Path
) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/audits", json={"facility": {"name": "Watched", "country": "VN"}})
        audit_id = r.json()["id"]
    ws = await websockets.connect(
        server.ws_url(audit_id), additional_headers={"Authorization": f"Bearer {api_token}"}
    )
    try:
        await ws.send(json.dumps({"type": "join"}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        done = await asyncio.to_thread(
            subprocess.run,
            [
                *(sys.executable, "-m", "server", "--data-dir", str(server.settings.data_dir)),
                *("user", "revoke-tokens", "--email", "auditor@example.org"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "revoked 1" in done.stdout

        async def closed_code() -> int | None:
            while True:
                try:
                    await ws.recv()
                except Exception:
                    return ws.close_code

        assert await asyncio.wait_for(closed_code(), DEADLINE_S + 1) == 4403
        async with server.client(api_token) as http:
            assert (await http.get("/api/audits")).status_code == 401
    finally:
        await ws.close()
