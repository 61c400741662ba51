"""Whose voice the other side hears: the one who spoke last, kept for a moment after."""

from __future__ import annotations

from server.media.frames import EncodedFrame
from server.media.talker import HOLD_S, Talker

LOUD, QUIET = 20, 120  # dBov: speech, and a room's hum


def audio(level: int | None) -> EncodedFrame:
    return EncodedFrame("audio", "opus", b"\x00", 0, 0, False, 1, level)


def test_the_last_to_speak_is_heard_and_keeps_the_floor_for_a_moment() -> None:
    now = [100.0]
    talker = Talker(clock=lambda: now[0])
    present = {"linh", "rahim"}.__contains__
    assert talker.admits("linh", audio(QUIET), present), "the first sound in the room is heard"
    assert talker.admits("linh", audio(LOUD), present)
    # Rahim speaks up while Linh still has the floor: not heard yet.
    now[0] += HOLD_S / 2
    assert not talker.admits("rahim", audio(LOUD), present)
    assert talker.admits("linh", audio(QUIET), present), "a pause in Linh's sentence keeps the floor"
    # Linh has been quiet for longer than the hold: whoever speaks now takes it.
    now[0] += HOLD_S + 0.1
    assert not talker.admits("rahim", audio(QUIET), present), "quiet does not take the floor"
    assert talker.admits("rahim", audio(LOUD), present)
    assert not talker.admits("linh", audio(None), present), "a frame without a level takes nothing"


def test_a_speaker_who_leaves_hands_the_floor_on() -> None:
    talker = Talker(clock=lambda: 0.0)
    inside = {"linh", "rahim"}
    assert talker.admits("linh", audio(LOUD), inside.__contains__)
    assert not talker.admits("rahim", audio(QUIET), inside.__contains__)
    inside.discard("linh")  # gone without a word: the next sound is heard
    assert talker.admits("rahim", audio(QUIET), inside.__contains__)
    talker.left("rahim")
    assert talker.speaker is None
