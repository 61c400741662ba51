from __future__ import annotations

import json

import pytest

from server.signaling import messages as m


def test_join_with_token_and_language() -> None:
    msg = m.parse(json.dumps({"type": "join", "token": "abc", "lang": "zh-CN"}))
    assert msg == m.Join(token="abc", lang="zh-CN", client=None)


def test_offer_keeps_sdp() -> None:
    assert m.parse('{"type": "offer", "sdp": "v=0\\r\\n"}') == m.Offer("v=0\r\n")


def test_candidate_null_means_end() -> None:
    assert m.parse('{"type": "candidate", "candidate": null}') == m.Candidate(None)
    assert m.parse('{"type": "candidate", "candidate": {"candidate": ""}}') == m.Candidate(None)


def test_candidate_object() -> None:
    line = "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host"
    msg = m.parse(json.dumps({"type": "candidate", "candidate": {"candidate": line, "sdpMLineIndex": 0}}))
    assert msg == m.Candidate({"candidate": line, "sdpMid": None, "sdpMLineIndex": 0})


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"no": "type"}', "bad_json"),
        ('{"type": 5}', "bad_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "offer"}', "invalid"),
        ('{"type": "offer", "sdp": "hello"}', "bad_sdp"),
        ('{"type": "join", "lang": "<script>"}', "invalid"),
        ('{"type": "join", "token": 7}', "invalid"),
        ('{"type": "candidate"}', "invalid"),
        ('{"type": "candidate", "candidate": {"candidate": "x"}}', "invalid"),
        ('{"type": "candidate", "candidate": {"candidate": "x", "sdpMLineIndex": -1}}', "invalid"),
        ('{"type": "media-state", "audio": "yes", "video": true}', "invalid"),
    ],
)
def test_malformed_messages_get_a_code(text: str, code: str) -> None:
    with pytest.raises(m.MessageError) as info:
        m.parse(text)
    assert info.value.code == code
    assert info.value.message


def test_oversized_message() -> None:
    big = json.dumps({"type": "offer", "sdp": "v=0" + "a" * m.MAX_MESSAGE_BYTES})
    with pytest.raises(m.MessageError) as info:
        m.parse(big)
    assert info.value.code == "too_large"


def test_error_message_shape() -> None:
    assert m.error("x", "y") == {"type": "error", "code": "x", "message": "y"}


def test_cameras_are_named_by_number() -> None:
    assert m.parse('{"type": "select-camera", "camera": 2}') == m.SelectCamera(2)
    assert m.parse('{"type": "pointer", "x": 0.5, "y": 0.5, "camera": 2}') == m.Pointer(0.5, 0.5, 2)
    assert m.parse('{"type": "pointer", "x": 0.5, "y": 0.5}') == m.Pointer(0.5, 0.5, None)
    assert m.parse('{"type": "capture", "camera": 1}') == m.Capture(None, None, 1)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "select-camera"}',
        '{"type": "select-camera", "camera": 0}',
        '{"type": "select-camera", "camera": 10}',
        '{"type": "select-camera", "camera": true}',
        '{"type": "select-camera", "camera": "2"}',
        '{"type": "capture", "camera": 1.5}',
        '{"type": "pointer", "x": 0, "y": 0, "camera": -1}',
    ],
)
def test_bad_camera_numbers_are_invalid(text: str) -> None:
    with pytest.raises(m.MessageError) as refused:
        m.parse(text)
    assert refused.value.code == "invalid" and "camera" in refused.value.message
