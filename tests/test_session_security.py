"""Sign-in throttling, CSRF on cookie-authenticated writes, and the headers under TLS."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest
import websockets

from server.db.models import LoginFailure
from server.tls import ca_cert_path
from tests.support import PASSWORD, LiveServer, live_server

EMAIL = "auditor@example.org"


async def sign_in(http: httpx.AsyncClient, password: str, email: str = EMAIL) -> httpx.Response:
    return await http.post("/login", data={"email": email, "password": password, "next": "/audits"})


async def test_five_failures_lock_that_email_from_that_address_until_the_window_passes(
    server: LiveServer, api_token: str
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(5):
            assert (await sign_in(http, "wrong password")).status_code == 401
        locked = await sign_in(http, PASSWORD)  # even the right password waits
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 15 * 60 + 1
        assert "Try again in 15 minutes" in locked.text
        assert "va_session" not in locked.cookies
        # Another email from the same address is not locked by these five.
        other = await sign_in(http, "wrong password", "someone@example.org")
        assert other.status_code == 401


async def test_a_successful_sign_in_resets_the_count(server: LiveServer, api_token: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(4):
            assert (await sign_in(http, "wrong password")).status_code == 401
        assert (await sign_in(http, PASSWORD)).status_code == 303
        http.cookies.clear()  # a browser would also send its Origin with the next form post
        for _ in range(4):
            assert (await sign_in(http, "wrong password")).status_code == 401
        assert (await sign_in(http, PASSWORD)).status_code == 303


async def test_spraying_many_emails_from_one_address_is_stopped(server: LiveServer, api_token: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for n in range(3):
            assert (await sign_in(http, "guess", f"user{n}@example.org")).status_code == 401
        # 47 more failures from this address (each costs a password hash when made for real).
        async with server.app_ctx().db.session() as s:
            s.add_all(LoginFailure(email=f"user{n}@example.org", address="127.0.0.1") for n in range(3, 50))
            await s.commit()
        r = await sign_in(http, "guess", "user99@example.org")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        # The right password of an account that never failed waits too: the address is spraying.
        assert (await sign_in(http, PASSWORD)).status_code == 429


async def signed_in(server: LiveServer) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=server.base_url)
    assert (await sign_in(http, PASSWORD)).status_code == 303
    return http


async def test_cookie_writes_need_our_origin(server: LiveServer, api_token: str) -> None:
    http = await signed_in(server)
    body = {"facility": {"name": "CSRF", "country": "VN"}}
    try:
        for headers in ({}, {"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"}):
            r = await http.post("/api/audits", json=body, headers=headers)
            assert r.status_code == 403 and r.json()["error"]["code"] == "csrf", headers
        ok = await http.post("/api/audits", json=body, headers={"Origin": server.base_url})
        assert ok.status_code == 201
        via_referer = await http.post(
            "/api/audits", json=body, headers={"Referer": f"{server.base_url}/audits"}
        )
        assert via_referer.status_code == 201
        # Reads are not affected; bearer clients never are.
        assert (await http.get("/api/audits")).status_code == 200
    finally:
        await http.aclose()
    async with server.client(api_token) as bearer:
        assert (await bearer.post("/api/audits", json=body)).status_code == 201


async def test_json_endpoints_take_only_json(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post(
            "/api/audits",
            content=json.dumps({"facility": {"name": "x", "country": "VN"}}),
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


async def test_cookie_sockets_need_our_origin(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        audit_id = (await http.post("/api/audits", json={"facility": {"name": "W", "country": "VN"}})).json()[
            "id"
        ]
    http = await signed_in(server)
    cookie = f"va_session={http.cookies['va_session']}"
    await http.aclose()
    for origin, expected in (("http://evil.example", "csrf"), (server.base_url, "welcome")):
        headers = {"Cookie": cookie, "Origin": origin}
        async with websockets.connect(server.ws_url(audit_id), additional_headers=headers) as ws:
            if expected == "welcome":
                await ws.send(json.dumps({"type": "join"}))
                assert json.loads(await ws.recv())["type"] == "welcome"
            else:
                assert json.loads(await ws.recv())["code"] == "csrf"


@pytest.fixture
async def tls_server(tmp_path: Path) -> object:
    async with live_server(tmp_path / "data", tls=True, certs_dir=tmp_path / "certs") as live:
        yield live


async def test_under_tls_hsts_strict_sockets_and_no_store(tls_server: LiveServer) -> None:
    context = ssl.create_default_context(cafile=str(ca_cert_path(tls_server.settings)))
    base = f"https://127.0.0.1:{tls_server.settings.port}"
    async with httpx.AsyncClient(base_url=base, verify=context) as http:
        page = await http.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        csp = page.headers["content-security-policy"]
        assert "connect-src 'self'" in csp and "ws:" not in csp and "wss:" not in csp
        assert page.headers["cache-control"] == "no-store"
        api = await http.get("/api/audits")
        assert api.status_code == 401 and api.headers["cache-control"] == "no-store"
        static = await http.get("/static/css/app.css")
        assert static.headers.get("cache-control") != "no-store"
