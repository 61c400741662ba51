"""TURN credentials per participant (the TURN REST API scheme), checked by a real coturn."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from aioice import stun
from aioice.turn import create_turn_endpoint
from sqlalchemy import update

from server import turn
from server.db.models import Invite
from server.media.candidates import CandidateRefused, checked
from server.media.peer import parse_candidate
from server.settings import Settings, SettingsError
from tests.coturn import Coturn, running_coturn
from tests.support import LiveServer, live_server, new_audit, new_invite

SECRET = "north-gate-7f3c9a"
NOW = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)


def test_credential_is_base64_hmac_sha1_of_the_username() -> None:
    # Computed apart from the code:
    # printf '1700000000:abc' | openssl dgst -sha1 -hmac north-gate -binary | base64
    assert turn.credential("north-gate", "1700000000:abc") == "7LVZ/tuFju4HzT5laYPVXMRFaqs="


def test_username_is_expiry_then_subject() -> None:
    expires = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert turn.username(expires, "p-1") == "1700000000:p-1"
    with pytest.raises(ValueError, match="without ':'"):
        turn.username(expires, "a:b")


@pytest.mark.parametrize(
    ("access_ends", "expected"),
    [
        (None, NOW + turn.MAX_TTL),  # an API token without an end: the cap
        (NOW + dt.timedelta(days=3), NOW + turn.MAX_TTL),  # a long invite: the cap
        (NOW + dt.timedelta(minutes=30), NOW + dt.timedelta(minutes=30)),  # the invite's end
        (NOW, None),  # nothing left: no credential at all
        (NOW - dt.timedelta(minutes=1), None),
    ],
)
def test_expiry_never_outlives_access_nor_the_cap(access_ends: dt.datetime | None, expected: Any) -> None:
    assert turn.expiry(NOW, access_ends) == expected


def test_each_turn_url_gets_the_participants_credential() -> None:
    urls = ("turn:t.example.org:3478?transport=udp", "turns:t.example.org:443?transport=tcp")
    servers = turn.ice_servers(urls, SECRET, "p-1", NOW, NOW + dt.timedelta(hours=1))
    user = f"{int((NOW + dt.timedelta(hours=1)).timestamp())}:p-1"
    assert servers == [
        {"urls": url, "username": user, "credential": turn.credential(SECRET, user)} for url in urls
    ]
    assert turn.ice_servers(urls, None, "p-1", NOW, None) == []
    assert turn.ice_servers(urls, SECRET, "p-1", NOW, NOW) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"turn_urls": ("turn:t.example.org:3478",)}, "go together"),
        ({"turn_secret": SECRET}, "go together"),
        ({"turn_urls": ("turn:user:pw@t.example.org",), "turn_secret": SECRET}, "without credentials"),
        ({"turn_urls": ("stun:t.example.org",), "turn_secret": SECRET}, "TURN URL"),
        ({"turn_urls": ("turn:t.example.org?transport=sctp",), "turn_secret": SECRET}, "TURN URL"),
        ({"ice_transport_policy": "relay"}, "needs a TURN server"),
        ({"ice_transport_policy": "none"}, "all or relay"),
    ],
)
def test_bad_turn_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings(**kwargs)


def test_good_turn_settings_and_a_secret_that_never_shows() -> None:
    s = Settings(
        turn_urls=("turn:[2001:db8::1]:3478?transport=udp", "turns:turn.example.org:443?transport=tcp"),
        turn_secret=SECRET,
        ice_transport_policy="relay",
    )
    assert SECRET not in repr(s) and SECRET not in str(s)


def test_cli_takes_turn_settings_from_the_environment_and_never_prints_the_secret(tmp_path: Path) -> None:
    code = (
        "import click, sys\n"
        "from server.cli import main\n"
        "from server import cli\n"
        "cli.uvicorn_config = lambda s: print(s.turn_urls, s.turn_secret == 'north-gate-7f3c9a', "
        "s.ice_transport_policy) or sys.exit(0)\n"
        "main(['serve', '--port', '8123'])\n"
    )
    env = {
        "VAUDIT_DATA_DIR": str(tmp_path),
        "VAUDIT_TURN_URL": "turn:t.example.org:3478?transport=udp turns:t.example.org:443?transport=tcp",
        "VAUDIT_TURN_SECRET": SECRET,
        "VAUDIT_ICE_TRANSPORT_POLICY": "relay",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=Path.cwd()
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "('turn:t.example.org:3478?transport=udp', 'turns:t.example.org:443?transport=tcp') True relay"
    )
    assert SECRET not in done.stdout.replace("True", "") + done.stderr


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with running_coturn(tmp_path_factory.mktemp("coturn"), SECRET, tls=True) as server:
        yield server


async def allocate(coturn: Coturn, username: str, password: str, tls: bool = False) -> tuple[str, int]:
    """Ask the real coturn for a relay allocation with these credentials (over UDP, or TURN over
    TLS checked against its CA); its relayed address."""
    if tls:
        assert coturn.tls_port is not None and coturn.ca_file is not None
        where, context = (coturn.host, coturn.tls_port), ssl.create_default_context(cafile=coturn.ca_file)
    else:
        where, context = (coturn.host, coturn.port), None
    transport, _ = await asyncio.wait_for(
        create_turn_endpoint(
            asyncio.DatagramProtocol,
            where,
            username=username,
            password=password,
            ssl=context,
            transport="tcp" if tls else "udp",
        ),
        10,
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def test_coturn_accepts_our_credential_and_refuses_others(coturn: Coturn) -> None:
    now = dt.datetime.now(dt.UTC)
    user = turn.username(now + dt.timedelta(minutes=5), "participant-1")
    relayed = await allocate(coturn, user, turn.credential(SECRET, user))
    assert relayed[0] == "127.0.0.1", f"allocation: {relayed}"

    with pytest.raises(stun.TransactionFailed, match="401"):
        await allocate(coturn, user, turn.credential("another-secret", user))
    expired = turn.username(now - dt.timedelta(seconds=5), "participant-1")
    with pytest.raises(stun.TransactionFailed, match="401"):
        await allocate(coturn, expired, turn.credential(SECRET, expired))


async def test_turn_over_tls_takes_the_same_credential(coturn: Coturn) -> None:
    """The TLS listener (what turns:...:443 is in production), its certificate checked."""
    user = turn.username(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5), "participant-2")
    relayed = await allocate(coturn, user, turn.credential(SECRET, user), tls=True)
    assert relayed[0] == "127.0.0.1", f"allocation over TLS: {relayed}"
    with pytest.raises(stun.TransactionFailed, match="401"):
        await allocate(coturn, user, turn.credential("another-secret", user), tls=True)


@pytest.fixture
async def turn_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    urls = ("turn:127.0.0.1:3478?transport=udp", "turns:turn.example.org:443?transport=tcp")
    async with live_server(tmp_path / "data", turn_urls=urls, turn_secret=SECRET) as live:
        yield live


async def join(server: LiveServer, audit_id: str, message: dict[str, Any], **kw: Any) -> dict[str, Any]:
    async with websockets.connect(server.ws_url(audit_id), **kw) as ws:
        await ws.send(json.dumps(message))
        welcome: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome", welcome
    return welcome


async def test_welcome_brings_each_participant_its_own_credential_for_at_most_its_access(
    turn_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await turn_server.create_user()
    async with turn_server.client(token) as http:
        audit_id = await new_audit(http, "Haiphong Ceramics")
        invite = await new_invite(http, audit_id, ttl_minutes=30)
    before = dt.datetime.now(dt.UTC)
    staff = await join(turn_server, audit_id, {"type": "join", "token": invite["token"]})
    auditor = await join(
        turn_server, audit_id, {"type": "join"}, additional_headers={"Authorization": f"Bearer {token}"}
    )

    invite_ends = dt.datetime.fromisoformat(invite["expires_at"])
    for welcome, latest in ((staff, invite_ends), (auditor, before + turn.MAX_TTL + dt.timedelta(seconds=5))):
        assert welcome["ice_transport_policy"] == "all"
        servers = welcome["ice_servers"]
        assert [s["urls"] for s in servers] == list(turn_server.settings.turn_urls)
        user = servers[0]["username"]
        expiry, _, subject = user.partition(":")
        assert subject == welcome["participant"]["id"]
        assert before.timestamp() < int(expiry) <= latest.timestamp()
        assert all(s["credential"] == turn.credential(SECRET, user) for s in servers)
    assert staff["ice_servers"][0]["username"] != auditor["ice_servers"][0]["username"]

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged, "nothing was logged at all: the check below would prove nothing"
    assert SECRET not in logged
    for welcome in (staff, auditor):
        assert welcome["ice_servers"][0]["credential"] not in logged


async def test_an_invite_about_to_end_gets_no_longer_credential(turn_server: LiveServer) -> None:
    token = await turn_server.create_user()
    async with turn_server.client(token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id, ttl_minutes=60)
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    async with turn_server.app_ctx().db.session() as s:
        await s.execute(update(Invite).where(Invite.id == invite["id"]).values(expires_at=ends))
        await s.commit()
    welcome = await join(turn_server, audit_id, {"type": "join", "token": invite["token"]})
    expiry = int(welcome["ice_servers"][0]["username"].split(":")[0])
    assert expiry <= ends.timestamp()


@pytest.mark.parametrize(
    ("address", "allow_loopback", "accepted"),
    [
        ("203.0.113.7", False, True),  # a relay's public address: used like any other candidate
        ("127.0.0.1", False, False),  # a relay on loopback: refused by a server facing the network
        ("127.0.0.1", True, True),  # ...and used by a server that only listens on loopback (tests)
    ],
)
async def test_relayed_candidates_pass_the_candidate_filter_like_others(
    address: str, allow_loopback: bool, accepted: bool
) -> None:
    line = f"candidate:1 1 udp 16785407 {address} 40001 typ relay raddr 0.0.0.0 rport 0"
    candidate = parse_candidate({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0})
    assert candidate.type == "relay"
    if accepted:
        assert (await checked(candidate, allow_loopback)).ip == address
    else:
        with pytest.raises(CandidateRefused, match="loopback"):
            await checked(candidate, allow_loopback)
