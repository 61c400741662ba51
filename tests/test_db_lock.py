"""A write that finds the database locked waits for it instead of failing: on a starved
machine another transaction can hold the lock for seconds, and evidence (a photo, a segment's
row) that is late is still kept, where an error would lose it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from tests.support import LiveServer, new_invite
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
