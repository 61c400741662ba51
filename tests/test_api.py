"""The JSON API against a real server: audits, invites, errors."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy import select

from server.db.models import Invite
from tests.support import LiveServer, new_audit, new_invite


async def test_api_requires_authentication(server: LiveServer) -> None:
    async with server.client() as http:
        r = await http.get("/api/audits")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        r = await http.get("/api/audits", headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401


async def test_create_list_and_get_audit(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post(
            "/api/audits",
            json={"facility": {"name": "Shenzhen Plant 2", "country": "CN", "address": "1 Road"}},
        )
        assert r.status_code == 201
        audit = r.json()
        assert audit["facility"] == {
            "id": audit["facility"]["id"],
            "name": "Shenzhen Plant 2",
            "country": "CN",
            "address": "1 Road",
        }
        assert audit["title"] == "Security audit — Shenzhen Plant 2"
        assert audit["status"] == "open"
        assert audit["created_at"].endswith("Z") and "." in audit["created_at"]
        listed = (await http.get("/api/audits")).json()["items"]
        assert [a["id"] for a in listed] == [audit["id"]]
        got = (await http.get(f"/api/audits/{audit['id']}")).json()
        assert got["id"] == audit["id"]
        assert got["live"] == {"media": "waiting", "participants": []}


async def test_bad_audit_bodies_are_explained(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/audits", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
        r = await http.post("/api/audits", json={"facility": {"name": "X"}})
        assert r.status_code == 422 and "country" in r.json()["error"]["message"]
        r = await http.post("/api/audits", json={"facility": "X"})
        assert r.status_code == 422
        r = await http.post("/api/audits", json={"facility": {"name": "X" * 400, "country": "VN"}})
        assert r.status_code == 422 and "at most" in r.json()["error"]["message"]
        r = await http.post("/api/audits", content=b"{" + b" " * 70_000 + b"}")
        assert r.status_code == 413
        r = await http.get("/api/audits/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_invite_is_random_hashed_and_has_a_qr(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id, label="Mr Nguyen", ttl_minutes=30)
    token = invite["token"]
    assert len(token) >= 22  # 16 random bytes, base64url
    assert invite["url"] == f"{server.base_url}/join/{token}"
    assert invite["qr_svg"].lstrip().startswith("<svg")
    assert invite["label"] == "Mr Nguyen" and not invite["revoked"]
    async with server.app_ctx().db.session() as s:
        rows = list((await s.execute(select(Invite))).scalars())
    assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]


async def test_invite_ttl_is_bounded(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        for ttl in (0, -5, "60", 10**9, True, 14 * 24 * 60 + 1):
            r = await http.post(f"/api/audits/{audit_id}/invites", json={"ttl_minutes": ttl})
            assert r.status_code == 422, ttl
        # A tech check link sent days ahead still works on the day: up to 14 days.
        r = await http.post(f"/api/audits/{audit_id}/invites", json={"ttl_minutes": 14 * 24 * 60})
        assert r.status_code == 201, r.text


async def test_revoke_invite_and_list(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
        r = await http.delete(f"/api/audits/{audit_id}/invites/{invite['id']}")
        assert r.status_code == 200 and r.json()["revoked"] is True
        items = (await http.get(f"/api/audits/{audit_id}/invites")).json()["items"]
        assert [(i["id"], i["revoked"]) for i in items] == [(invite["id"], True)]
        assert "token" not in items[0]
        other = await new_audit(http, "Other")
        r = await http.delete(f"/api/audits/{other}/invites/{invite['id']}")
        assert r.status_code == 404
        page = await http.get(f"/join/{invite['token']}")
        assert page.status_code == 410
        assert "withdrew this invite link" in page.text


async def test_join_page_for_valid_invite(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http, "Dhaka Knitwear")
        invite = await new_invite(http, audit_id)
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        page = await anonymous.get(f"/join/{invite['token']}")
    assert page.status_code == 200
    assert "Dhaka Knitwear" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
