"""Fuzzing REST input: JSON bodies, whole-number parameters, and a few examples through a live server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from server.api.common import json_object
from server.errors import ApiError
from server.params import query_int, strict_int
from tests.fuzz import profiles  # noqa: F401 (selects the Hypothesis profile)
from tests.support import LiveServer, live_server

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
# Digits of every script, signs, spaces, exponents: what isdigit() and int() disagree about.
number_text = st.text(alphabet=st.characters(categories=["Nd", "No", "Zs", "Pd"]) | st.sampled_from("+-_ e."))


@given(st.binary(max_size=3000))
def test_any_body_is_an_object_or_a_400(body: bytes) -> None:
    try:
        assert isinstance(json_object(body), dict)
    except ApiError as exc:
        assert exc.status == 400 and exc.code == "bad_json"


@given(json_value)
def test_any_json_value_is_an_object_or_a_400(value: Any) -> None:
    try:
        assert json_object(json.dumps(value).encode()) == value
    except ApiError as exc:
        assert not isinstance(value, dict) or "nested" in exc.message


@given(number_text | st.integers().map(str))
def test_strict_int_is_ascii_digits_in_range(raw: str) -> None:
    value = strict_int(raw, 0, 1000)
    if value is not None:
        assert raw.isascii() and raw.isdigit() and 0 <= value <= 1000 and int(raw) == value


@given(number_text | st.integers(min_value=-(10**30), max_value=10**30).map(str))
def test_query_int_is_a_number_in_range_or_a_400(raw: str) -> None:
    request = Request({"type": "http", "query_string": f"limit={quote(raw)}".encode(), "headers": []})
    try:
        assert 1 <= query_int(request, "limit", 5, 1, 500) <= 500
    except ApiError as exc:
        assert exc.status == 400 and exc.code == "invalid"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, str]]:
    """A live server in a thread of its own, so that synchronous Hypothesis tests can call it."""
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def serve() -> None:
        async with live_server(tmp_path_factory.mktemp("fuzz") / "data") as server:
            token = await server.create_user()
            stop = asyncio.Event()
            ready.update(server=server, token=token, stop=stop, loop=asyncio.get_running_loop())
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    assert started.wait(30)
    server: LiveServer = ready["server"]
    headers = {"Authorization": f"Bearer {ready['token']}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        r = http.post("/api/audits", json={"facility": {"name": "Fuzz", "country": "VN"}})
        audit_id = r.json()["id"]
    try:
        yield server, ready["token"], audit_id
    finally:
        ready["loop"].call_soon_threadsafe(ready["stop"].set)
        thread.join(30)


@settings(max_examples=25)
@given(body=st.binary(max_size=2000) | json_value.map(lambda v: json.dumps(v).encode()))
def test_live_bodies_never_cause_a_500(live: tuple[LiveServer, str, str], body: bytes) -> None:
    server, token, audit_id = live
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        for path in ("/api/audits", f"/api/audits/{audit_id}/invites"):
            r = http.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code < 500, r.text
            assert "error" in r.json() or r.status_code == 201


@settings(max_examples=25)
@given(raw=number_text | st.integers().map(str), name=st.sampled_from(["limit", "cursor"]))
def test_live_query_ints_never_cause_a_500(live: tuple[LiveServer, str, str], raw: str, name: str) -> None:
    server, token, audit_id = live
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        r = http.get(f"/api/audits/{audit_id}/evidence?{name}={quote(raw)}")
        assert r.status_code in (200, 400), r.text
        seq = http.get(f"/api/audits/{audit_id}/recording/{quote(raw, safe='')}")
        assert (seq.status_code < 500 and seq.status_code != 200) or raw in (".", ".."), seq.text


def test_profiles_are_registered() -> None:
    assert settings.get_profile("long").max_examples > settings.get_profile("ci").max_examples
    assert Path(__file__).with_name("profiles.py").exists()
