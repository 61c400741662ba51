"""Invite links: which bases a phone on the LAN cannot reach."""

from __future__ import annotations

import pytest

from server.invite_links import on_loopback


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:8000",
        "https://127.8.9.1",
        "http://localhost:8000",
        "http://[::1]:8443",
        "http://app.localhost",
    ],
)
def test_loopback_bases_are_recognised(base: str) -> None:
    assert on_loopback(base)


@pytest.mark.parametrize(
    "base",
    ["https://192.168.1.20:8443", "https://audit.example.org", "http://[fe80::1]:8000", "http://10.0.0.2"],
)
def test_lan_and_public_bases_are_not_loopback(base: str) -> None:
    assert not on_loopback(base)
