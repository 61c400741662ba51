"""The phone's photo upload as its queue relies on it: the hash checked, both times kept,
a retry never a second item, and the refusals the queue treats as final."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx

from tests.support import COMPLETE_ANYWAY, LiveServer, new_audit, new_invite
from tests.test_walkthrough_api import jpeg

TAKEN = "2026-03-02T07:15:30.250Z"


def photo_form(data: bytes, sha256: str | None, taken: str = TAKEN) -> dict[str, Any]:
    form: dict[str, Any] = {"device_time": taken}
    if sha256 is not None:
        form["sha256"] = sha256
    return {"files": {"file": ("photo.jpg", data, "image/jpeg")}, "data": form}


async def staff_setup(http: httpx.AsyncClient) -> tuple[str, dict[str, Any], str]:
    aid = await new_audit(http)
    invite = await new_invite(http, aid, label="Linh")
    return aid, invite, f"/api/audits/{aid}/photos"


def as_staff(invite: dict[str, Any], key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Invite {invite['token']}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def photos_of(http: httpx.AsyncClient, aid: str) -> list[dict[str, Any]]:
    r = await http.get(f"/api/audits/{aid}/evidence", params={"kind": "photo"})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_the_phone_hash_is_checked_and_kept_with_both_times(server: LiveServer, api_token: str) -> None:
    data = jpeg()
    digest = hashlib.sha256(data).hexdigest()
    async with server.client(api_token) as http:
        aid, invite, url = await staff_setup(http)
        before = dt.datetime.now(dt.UTC)
        r = await http.post(url, headers=as_staff(invite, "q-1"), **photo_form(data, digest.upper()))
        after = dt.datetime.now(dt.UTC)
        assert r.status_code == 201, r.text
        item = r.json()
        assert item["sha256"] == item["device_sha256"] == digest
        # Both times: when the phone took it, and when the server had the whole of it.
        assert item["device_time"] == TAKEN
        received = dt.datetime.fromisoformat(item["captured_at"].replace("Z", "+00:00"))
        assert before - dt.timedelta(milliseconds=1) <= received <= after
        stored = await http.get(item["image_url"])
        assert hashlib.sha256(stored.content).hexdigest() == digest
        entries = (await http.get(f"/api/audits/{aid}/ledger")).json()["entries"]
        entry = next(e for e in entries if e.get("evidence_id") == item["id"])
        assert entry["type"] == "photo"
        assert (entry["sha256"], entry["device_sha256"]) == (digest, digest)
        assert entry["device_time"] == TAKEN
        assert entry["captured_at"] == item["captured_at"]


async def test_a_hash_mismatch_is_refused_naming_both_and_nothing_is_kept(
    server: LiveServer, api_token: str
) -> None:
    data = jpeg()
    actual = hashlib.sha256(data).hexdigest()
    claimed = hashlib.sha256(data + b"\0").hexdigest()
    async with server.client(api_token) as http:
        aid, invite, url = await staff_setup(http)
        r = await http.post(url, headers=as_staff(invite, "q-1"), **photo_form(data, claimed))
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "hash_mismatch"
        assert actual in error["message"] and claimed in error["message"]
        assert (error["received_sha256"], error["device_sha256"]) == (actual, claimed)
        assert await photos_of(http, aid) == []
        # The key was not used up: the same photo sent whole is taken.
        r = await http.post(url, headers=as_staff(invite, "q-1"), **photo_form(data, actual))
        assert r.status_code == 201, r.text
        r = await http.post(url, headers=as_staff(invite), **photo_form(data, "not-a-hash"))
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid")


async def test_a_queued_photo_sent_again_is_one_item(server: LiveServer, api_token: str) -> None:
    data = jpeg(640, 480)
    digest = hashlib.sha256(data).hexdigest()
    async with server.client(api_token) as http:
        aid, invite, url = await staff_setup(http)
        answers = [
            await http.post(url, headers=as_staff(invite, "photo-7f3a"), **photo_form(data, digest))
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [201, 201, 201]
        assert answers[0].json() == answers[1].json() == answers[2].json()
        assert [p["id"] for p in await photos_of(http, aid)] == [answers[0].json()["id"]]
        entries = (await http.get(f"/api/audits/{aid}/ledger")).json()["entries"]
        assert len([e for e in entries if e["type"] == "photo"]) == 1
        # Another photo (another key) is another item.
        other = await http.post(url, headers=as_staff(invite, "photo-80c1"), **photo_form(jpeg(), None))
        assert other.status_code == 201, other.text
        assert other.json()["device_sha256"] is None
        assert len(await photos_of(http, aid)) == 2


async def test_refusals_the_queue_treats_as_final(server: LiveServer, api_token: str) -> None:
    data = jpeg()
    digest = hashlib.sha256(data).hexdigest()
    async with server.client(api_token) as http:
        aid, invite, url = await staff_setup(http)
        r = await http.post(url, headers=as_staff(invite), **photo_form(b"not a picture", None))
        assert (r.status_code, r.json()["error"]["code"]) == (422, "not_an_image")
        r = await http.post(url, headers=as_staff(invite), **photo_form(data, digest, taken="yesterday"))
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid")
        r = await http.post(f"/api/audits/{aid}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200, r.text
        r = await http.post(url, headers=as_staff(invite, "late"), **photo_form(data, digest))
        assert (r.status_code, r.json()["error"]["code"]) == (409, "audit_completed")

        aid, invite, url = await staff_setup(http)
        r = await http.delete(f"/api/audits/{aid}/invites/{invite['id']}")
        assert r.status_code in (200, 204), r.text
        r = await http.post(url, headers=as_staff(invite, "revoked"), **photo_form(data, digest))
        assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")
