"""Which facility phone an auditor's "point here" and "take a photo" reach.

With two cameras the auditor directs the phone whose picture is on the console's large view
(``select-camera``), or the camera a message names: only that phone shows the marker or the
photo prompt. Without either (a console that never selected, an old client) every phone gets
it, as before there were several cameras.
"""

from __future__ import annotations

import uuid
from typing import Any

from server.media.hub import Participant, Room
from server.signaling import messages as m


def target_camera(room: Room, named: int | None, on_screen: int | None) -> int | None:
    """The camera a message is for: the one it names, else the one on screen (None: no choice).

    A camera no phone holds now is refused with ``no_such_camera``.
    """
    camera = named if named is not None else on_screen
    if camera is not None and room.camera_participant(camera) is None:
        raise m.MessageError("no_such_camera", f"camera {camera} is not connected")
    return camera


def camera_or_lowest(room: Room, named: int | None, on_screen: int | None) -> int:
    """As :func:`target_camera`, but without a choice the lowest-numbered camera a phone holds."""
    camera = target_camera(room, named, on_screen)
    if camera is not None:
        return camera
    held = sorted(p.camera for p in room.participants.values() if p.camera is not None)
    if not held:
        raise m.MessageError("no_such_camera", "no facility phone is connected")
    return held[0]


def phones_for(room: Room, camera: int | None) -> list[Participant]:
    """The phones a directing message goes to: that camera's, or without one every phone."""
    if camera is None:
        return [p for p in room.participants.values() if p.role == "staff"]
    phone = room.camera_participant(camera)
    return [phone] if phone is not None else []


async def point(room: Room, sender: Participant, msg: m.Pointer, on_screen: int | None) -> None:
    """Show a marker on the phone whose picture the auditor clicked."""
    camera = target_camera(room, msg.camera, on_screen)
    out: dict[str, Any] = {"type": "pointer", "x": msg.x, "y": msg.y, "from": sender.name}
    if camera is not None:
        out["camera"] = camera
    for phone in phones_for(room, camera):
        await phone.send(out)  # their push: never waits for a slow phone


async def ask_for_photo(room: Room, msg: m.PhotoRequest, on_screen: int | None) -> None:
    """Ask the phone on screen (or the one named) for a full-resolution photo.

    Each phone is told its own camera number, which it sends back with the photo.
    """
    camera = target_camera(room, msg.camera, on_screen)
    out: dict[str, Any] = {
        "type": "photo-request",
        "request_id": str(uuid.uuid4()),
        "checkpoint": msg.checkpoint,
        "camera": camera,
    }
    for phone in phones_for(room, camera):
        await phone.send(out | {"camera": phone.camera})
