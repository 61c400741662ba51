"""What the person on the phone controls: declining a photo request, pausing the camera,
and what its photo queue holds.

Only a phone (role ``staff``) may send these. A decline is passed to the auditors at once so
their wait ends; a pause or resume is a ledger event and everyone sees the phone's state; the
queue's report goes to the auditors and is kept (the phone's last word), so that completing
the audit knows what is still on the phones even when they are offline.
"""

from __future__ import annotations

from typing import Any

from server.context import AppContext
from server.db import queue_repo, repo
from server.media.hub import Participant, Room
from server.signaling import messages as m


def require_phone(participant: Participant, what: str) -> None:
    if participant.role != "staff":
        raise m.MessageError("forbidden", f"only the facility's phone can {what}")


async def photo_declined(room: Room, participant: Participant, msg: m.PhotoDeclined) -> None:
    """Tell the auditors that this phone will not take the requested photo now."""
    require_phone(participant, "decline a photo request")
    out: dict[str, Any] = {
        "type": "photo-declined",
        "request_id": msg.request_id,
        "checkpoint": msg.checkpoint,
        "from": participant.name,
    }
    await room.tell_auditors(out)


async def photo_queue(
    app: AppContext, audit_id: str, room: Room, participant: Participant, msg: m.PhotoQueue
) -> None:
    """Keep and tell the auditors how many photos wait on this phone for the link to carry them."""
    require_phone(participant, "report a photo queue")
    report = queue_repo.Report(
        participant.key or participant.id,
        participant.name[:200],
        msg.count,
        msg.bytes,
        msg.oldest_s,
        msg.sha256s,
    )
    async with app.db.session() as s:
        await queue_repo.record(s, audit_id, report)
    out: dict[str, Any] = {
        "type": "photo-queue",
        "participant_id": participant.id,
        "from": participant.name,
        "count": msg.count,
        "bytes": msg.bytes,
        "oldest_s": msg.oldest_s,
    }
    await room.tell_auditors(out)


async def set_paused(
    app: AppContext, audit_id: str, actor: str, room: Room, participant: Participant, paused: bool
) -> None:
    """Pause or resume this phone's camera: logged in the ledger, shown to everyone."""
    require_phone(participant, "pause the camera")
    if participant.paused == paused:
        return  # said already: no second ledger entry
    async with app.db.session() as s:
        await repo.record_event(
            s, audit_id, "pause" if paused else "resume", actor, {"participant": participant.id}
        )
    participant.paused = paused
    await room.update(participant)
