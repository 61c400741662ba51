from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import IceServer, Settings, SettingsError


def test_defaults_are_local_http() -> None:
    s = Settings()
    assert (s.host, s.port, s.tls, s.scheme) == ("127.0.0.1", 8000, False, "http")
    assert s.ice_servers == ()


def test_database_lives_in_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.database_url.endswith(str(tmp_path / "virtual-audit.db"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"port": 0}, "port"),
        ({"certfile": Path("a.pem")}, "together"),
        ({"certfile": Path("a"), "keyfile": Path("b")}, "--tls"),
        ({"public_url": "ftp://x"}, "public URL"),
        ({"invite_ttl_minutes": 0}, "positive"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_turn_url_with_credentials() -> None:
    server = IceServer.parse("turn:alice:s3cret@turn.example.org:3478?transport=tcp")
    assert server.as_browser_dict() == {
        "urls": "turn:turn.example.org:3478?transport=tcp",
        "username": "alice",
        "credential": "s3cret",
    }


def test_stun_url_has_no_credentials() -> None:
    assert IceServer.parse("stun:stun.example.org:3478").as_browser_dict() == {
        "urls": "stun:stun.example.org:3478"
    }


@pytest.mark.parametrize("bad", ["http://x", "turn:@host", "stun:", "turn:user@host"])
def test_malformed_ice_urls(bad: str) -> None:
    with pytest.raises(SettingsError):
        IceServer.parse(bad)
