"""A write that finds the database locked waits for it instead of failing: on a starved
machine another transaction can hold the lock for seconds, and evidence (a photo, a segment's
row) that is late is still kept, where an error would lose it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import pytest
import websockets

from server.signaling.endpoint import JoinSteps
from tests.support import LiveServer, new_audit, new_invite
from tests.test_guided_signaling import next_of
from tests.test_ledger_api import jpeg

HELD_S = 6.0  # longer than the 5 s a writer used to wait


async def test_a_photo_waits_behind_a_long_held_lock_and_is_kept(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/audits", json={"facility": {"name": "Lock Mill", "country": "BD"}})
        assert r.status_code == 201, r.text
        audit_id = r.json()["id"]
        invite = await new_invite(http, audit_id)

        locked, release = threading.Event(), threading.Event()

        def hold() -> None:
            db = sqlite3.connect(server.settings.data_dir / "virtual-audit.db", isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")  # the write lock, as a slow transaction holds it
                locked.set()
                release.wait(HELD_S)
                db.execute("COMMIT")
            finally:
                db.close()

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert await asyncio.to_thread(locked.wait, 10), "the test could not take the lock"
            upload = await http.post(
                f"/api/audits/{audit_id}/photos",
                files={"file": ("a.jpg", jpeg(), "image/jpeg")},
                headers={"Authorization": f"Invite {invite['token']}"},
                timeout=60,
            )
        finally:
            release.set()
            await asyncio.to_thread(holder.join)
        assert upload.status_code == 201, upload.text
        photo = upload.json()
        proof = await http.get(f"/api/evidence/{photo['id']}/proof")
        assert proof.status_code == 200, proof.text


async def test_a_join_held_up_says_where_while_it_waits(
    server: LiveServer, api_token: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A join that hangs is logged while it hangs, with the steps it got through: a page that
    waits for its `welcome` in vain has nothing else on the server side to go on."""
    monkeypatch.setattr(JoinSteps, "STILL_S", 0.5)
    monkeypatch.setattr(JoinSteps, "SLOW_S", 0.5)
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
    locked, release, logged = threading.Event(), threading.Event(), asyncio.Event()

    def hold() -> None:
        db = sqlite3.connect(server.settings.data_dir / "virtual-audit.db", isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(30)
            db.execute("COMMIT")
        finally:
            db.close()

    holder = threading.Thread(target=hold)
    holder.start()
    headers = {"Authorization": f"Bearer {api_token}"}
    try:
        assert await asyncio.to_thread(locked.wait, 10), "the test could not take the lock"
        async with websockets.connect(server.ws_url(audit_id), additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "join"}))
            for _ in range(200):  # the join's ledger write waits for the lock: logged meanwhile
                if any("still under way" in r.getMessage() for r in caplog.records):
                    logged.set()
                    break
                await asyncio.sleep(0.05)
            release.set()
            welcome = await next_of(ws, "welcome")
    finally:
        release.set()
        await asyncio.to_thread(holder.join)
    assert logged.is_set(), "a join held up by the lock was not logged while it waited"
    still = next(r.getMessage() for r in caplog.records if "still under way" in r.getMessage())
    assert audit_id in still and "consent lookup" in still and "ledger" not in still, still
    assert welcome["participant"]["role"] == "auditor"
    took = [r.getMessage() for r in caplog.records if "'s join to audit" in r.getMessage()]
    assert took and "ledger" in took[0], took
