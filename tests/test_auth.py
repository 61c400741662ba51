"""Login, session cookies, logout and the access log."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support import PASSWORD, LiveServer, new_audit, new_invite


async def login(server: LiveServer, http: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await http.post(
        "/login", data={"email": "auditor@example.org", "password": password, "next": "/audits"}
    )


async def test_wrong_password_is_refused(server: LiveServer, api_token: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await login(server, http, "wrong password")
    assert r.status_code == 401
    assert "Wrong email or password" in r.text
    assert "va_session" not in r.cookies


async def test_login_sets_a_safe_session_cookie(server: LiveServer, api_token: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await login(server, http)
        assert r.status_code == 303 and r.headers["location"] == "/audits"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # plain HTTP on localhost
        assert (await http.get("/api/audits")).status_code == 200
        assert (await http.get("/audits")).status_code == 200
        assert (await http.post("/logout", headers={"Origin": server.base_url})).status_code == 303
        http.cookies.clear()
        # The old cookie value is revoked server-side, not just deleted in the browser.
        http.cookies.set("va_session", r.cookies["va_session"])
        assert (await http.get("/api/audits")).status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil"])
async def test_login_never_redirects_off_site(server: LiveServer, api_token: str, target: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post(
            "/login", data={"email": "auditor@example.org", "password": PASSWORD, "next": target}
        )
    assert r.headers["location"] == "/audits"


async def test_pages_redirect_to_login(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get("/audits/123")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/audits/123"


async def test_access_log_never_shows_invite_tokens(
    server: LiveServer, api_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with server.client(api_token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
        with caplog.at_level(logging.INFO, logger="virtual_audit.access"):
            await http.get(f"/join/{invite['token']}")
    assert "/join/[redacted]" in caplog.text
    assert invite["token"] not in caplog.text
    assert api_token not in caplog.text
