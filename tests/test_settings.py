from __future__ import annotations

import os
import subprocess
import sys
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
        ({"photo_max_pixels": 200_000_000}, "pixel limit"),
        ({"photo_burst": 0}, "burst"),
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


def test_opencv_gets_its_pixel_limit_before_it_loads() -> None:
    code = (
        "import server, cv2, numpy as np\n"
        "from tests.hostile_inputs import png_bomb\n"
        "try:\n"
        "    cv2.imdecode(np.frombuffer(png_bomb(12000, 9000, 1 << 20), np.uint8), cv2.IMREAD_COLOR)\n"
        "except cv2.error as exc:\n"
        "    print('refused' if 'CV_IO_MAX_IMAGE_PIXELS' in str(exc) else exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == "refused", done.stderr
