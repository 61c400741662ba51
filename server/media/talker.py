"""Whose voice is passed on: of several people on one side, the one who spoke last.

The auditors hear one phone at a time and the phones hear one auditor at a time. A speaker
keeps the floor while they are loud, and for :data:`HOLD_S` after; then whoever is loud takes
it. RTP's audio-level header (RFC 6464) says how loud each frame is, so nothing is decoded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from server.media.frames import EncodedFrame

HOLD_S = 1.0
LOUD_DBOV = 50  # audio level (0 loudest .. 127 silent) that counts as speech


class Talker:
    """The current speaker of one side of the room."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.speaker: str | None = None
        self.loud_at = 0.0
        self.clock = clock

    def admits(self, speaker: str, frame: EncodedFrame, present: Callable[[str], bool]) -> bool:
        """Whether ``speaker``'s ``frame`` is passed on (``present``: is someone still in the room)."""
        now = self.clock()
        loud = frame.audio_level is not None and frame.audio_level < LOUD_DBOV
        if self.speaker is None or not present(self.speaker) or (loud and now - self.loud_at > HOLD_S):
            self.speaker = speaker
        if speaker != self.speaker:
            return False
        if loud:
            self.loud_at = now
        return True

    def left(self, participant_id: str) -> None:
        if self.speaker == participant_id:
            self.speaker = None
