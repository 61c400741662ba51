"""Who is in a live audit's room: auditors and facility phones, each phone a numbered camera."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]
MAX_CAMERAS = 2  # phones publishing at once; a further phone is refused at `join`


@dataclass
class Participant:
    id: str
    role: str  # "auditor" | "staff"
    name: str
    send: Send
    audio: bool = True
    video: bool = True
    lang: str | None = None
    paused: bool = False  # the phone's camera is paused (a break): it sends no picture
    camera: int | None = None  # a phone's camera number (1 .. MAX_CAMERAS)
    key: str | None = None  # a phone's identity across rejoins: its invite and device

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "name": self.name,
            "audio": self.audio,
            "video": self.video,
            "paused": self.paused,
            "lang": self.lang,  # the phone's language (primary subtag), as it said in `join`
            "camera": self.camera,
        }


class TooManyCameras(Exception):
    """Every camera number is held by another phone."""


def free_camera(participants: list[Participant], key: str | None, held_before: int | None) -> int:
    """The camera number a joining phone gets: the one it held before if free, else the lowest free.

    The same phone (same ``key``) still among ``participants`` counts as leaving: it is being
    replaced. :class:`TooManyCameras` when every number is taken.
    """
    taken = {p.camera for p in participants if p.camera is not None and (key is None or p.key != key)}
    if held_before is not None and held_before not in taken:
        return held_before
    free = [n for n in range(1, MAX_CAMERAS + 1) if n not in taken]
    if not free:
        raise TooManyCameras(f"{MAX_CAMERAS} cameras are already connected to this audit")
    return free[0]
