"""Fuzzing signaling message parsing: any frame becomes a message object or the one typed error."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from server.signaling import messages as m
from tests.fuzz import profiles  # noqa: F401 (selects the Hypothesis profile)

PARSE_BUDGET_S = 0.25
CANDIDATE_LINE = "candidate:1 1 udp 1 10.0.0.1 9 typ host"  # one frame of at most 64 KiB

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=40,
)

VALID: list[dict[str, Any]] = [
    {"type": "join", "token": "abc", "lang": "vi-VN", "client": "phone", "device": "device-12345678"},
    {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"},
    {"type": "candidate", "candidate": {"candidate": CANDIDATE_LINE, "sdpMid": "0"}},
    {"type": "candidate", "candidate": None},
    {"type": "media-state", "audio": True, "video": False},
    {"type": "ping"},
    {"type": "capture", "checkpoint": "floor", "request_id": "r1"},
    {"type": "consent", "accepted": True, "location": {"lat": 10.5, "lon": 106.7, "accuracy": 12}},
    {"type": "goto", "key": "floor"},
    {"type": "pointer", "x": 0.5, "y": 0.25},
    {"type": "photo-request", "checkpoint": None},
]


def parse_bounded(text: str | bytes) -> m.Message | m.MessageError:
    start = time.perf_counter()
    try:
        result: m.Message | m.MessageError = m.parse(text)
    except m.MessageError as exc:
        result = exc
    assert time.perf_counter() - start < PARSE_BUDGET_S
    return result


@given(st.text(max_size=2000))
def test_any_text_is_a_message_or_a_message_error(text: str) -> None:
    parse_bounded(text)


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_message_or_a_message_error(data: bytes) -> None:
    parse_bounded(data)


@given(json_value)
def test_any_json_is_a_message_or_a_message_error(value: Any) -> None:
    result = parse_bounded(json.dumps(value))
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        assert isinstance(result, m.MessageError) and result.code == "bad_json"


@given(st.sampled_from(VALID), st.text(max_size=12), json_value)
def test_mutated_valid_messages_are_a_message_or_a_message_error(
    valid: dict[str, Any], key: str, value: Any
) -> None:
    mutated = valid | {key: value} if key != "type" else valid
    result = parse_bounded(json.dumps(mutated))
    if isinstance(result, m.MessageError):
        assert result.code in ("invalid", "bad_sdp") and result.message


@given(st.sampled_from(VALID), st.integers(min_value=33, max_value=20_000), st.sampled_from("[{"))
def test_deep_nesting_is_refused_cheaply(valid: dict[str, Any], depth: int, bracket: str) -> None:
    closing = "]" if bracket == "[" else "}"
    inner = bracket * depth + closing * depth if bracket == "[" else '{"a":' * depth + "1" + closing * depth
    text = json.dumps(valid)[:-1] + ', "x": ' + inner + "}"
    result = parse_bounded(text)
    assert isinstance(result, m.MessageError) and result.code in ("bad_json", "too_large")


@given(st.sampled_from(VALID), st.integers(min_value=0, max_value=80_000))
def test_long_fields_are_refused_not_accepted(valid: dict[str, Any], size: int) -> None:
    long = {k: ("x" * size if isinstance(v, str) and k != "type" else v) for k, v in valid.items()}
    result = parse_bounded(json.dumps(long))
    if not isinstance(result, m.MessageError):
        fields = [v for v in vars(result).values() if isinstance(v, str)]
        assert all(len(v) <= m.MAX_SDP_CHARS for v in fields)
