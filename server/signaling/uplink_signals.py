"""Thin uplinks over signaling: the phone's `uplink-stats`, and the auditors' `photo-mode`.

* ``uplink-stats`` (the phone only): combined with the server's receiver view into an
  ``uplink`` message that goes to the auditors only, never to another phone.
* ``photo-mode`` (the auditors who may RUN the audit only): one camera's phone (the one on
  the sender's screen, or the one named) pauses its video (audio goes on) and takes
  full-resolution photos on request; the auditors and that phone are told, the switch is a
  ledger event naming the camera, and a phone that rejoins is told again after ``welcome``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.context import AppContext
from server.db import repo
from server.db.ledger_repo import AuditSealed
from server.media.hub import Participant, Room
from server.media.peer import PeerSession
from server.media.tap import ReceiverTap
from server.media.uplink import UplinkMonitor
from server.signaling import directing
from server.signaling import messages as m
from server.signaling.staff_controls import require_phone


def video_tap(peer: PeerSession | None) -> ReceiverTap | None:
    """The tap on the phone's video receiver of this peer connection, if there is one."""
    if peer is None:
        return None
    return next((tap for tap in peer.taps if tap.kind == "video"), None)


async def uplink_stats(
    monitor: UplinkMonitor, room: Room, participant: Participant, peer: PeerSession | None, msg: m.UplinkStats
) -> dict[str, Any] | None:
    """Forward the phone's report to the auditors; returns a reply for the phone, if any."""
    require_phone(participant, "report uplink statistics")
    wait = monitor.too_soon()
    if wait > 0:
        return m.rate_limited(wait)
    out = await monitor.report(participant.public(), msg, video_tap(peer), participant.paused)
    out["camera"] = participant.camera
    out["photo_mode"] = room.in_photo_mode(participant.camera)
    await room.tell_auditors(out)
    return None


@dataclass(frozen=True)
class PhotoModeSwitch:
    """Who asks to switch photo mode: the audit, the ledger's actor, whether they run it, their screen."""

    audit_id: str
    actor: str
    may_run: bool
    on_screen: int | None  # the camera on the sender's large view (`select-camera`)


async def set_photo_mode(
    app: AppContext, switch: PhotoModeSwitch, room: Room, participant: Participant, msg: m.PhotoMode
) -> None:
    """Switch one camera's phone to photo mode or back: a ledger event naming the camera; the
    auditors and that phone are told (the other phone goes on streaming)."""
    audit_id, actor = switch.audit_id, switch.actor
    if participant.role != "auditor" or not switch.may_run:
        raise m.MessageError("forbidden", "only the auditors running this audit can switch photo mode")
    if audit_id in app.sockets.sealing:
        raise m.MessageError("audit_completed", "this audit is being completed")
    camera = directing.camera_or_lowest(room, msg.camera, switch.on_screen)
    if room.in_photo_mode(camera) == msg.on:
        await participant.send(room.photo_mode_message(camera, participant.name))  # said already
        return
    try:
        async with app.db.session() as s:
            await repo.record_event(s, audit_id, "photo-mode", actor, {"on": msg.on, "camera": camera})
    except AuditSealed as exc:
        raise m.MessageError(exc.code, exc.message) from exc
    room.set_photo_mode(camera, msg.on)
    out = room.photo_mode_message(camera, participant.name)
    await room.tell_auditors(out)
    for phone in directing.phones_for(room, camera):
        await phone.send(out)
