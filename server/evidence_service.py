"""The evidence lifecycle's one entry point for captures, whichever transport asked."""

from __future__ import annotations

from server.context import AppContext
from server.db import repo
from server.db.models import Evidence
from server.errors import ApiError
from server.recording import CaptureError, stored_evidence
from server.views import evidence_json


async def capture_evidence(
    app: AppContext,
    audit_id: str,
    checkpoint: str | None,
    actor: str,
    *,
    requester: str | None = None,
    key: str | None = None,
    camera: int | None = None,
) -> Evidence:
    """Capture the sharpest frame of the next window; durable (row + ledger entry) on return.

    Everyone in the room but ``requester`` (a participant id) is told ``captured``; the
    requester gets its own answer from the transport that asked. A retry with the same
    idempotency ``key`` (already scoped to the requester) gets the item stored the first time.
    ``camera`` picks the phone to capture from (default: the primary camera, see ``Room.primary_camera``).
    """
    if (done := await stored_evidence(app.db, audit_id, key)) is not None:
        return done
    recorder = app.recorders.by_audit.get(audit_id)
    if recorder is None:
        raise ApiError(409, "capture_failed", "the facility camera is not live")
    try:
        row, new = await recorder.capture(checkpoint, actor, key, camera)
    except CaptureError as exc:
        raise ApiError(409, "capture_failed", str(exc)) from exc
    if not new:
        return row
    async with app.db.session() as s:
        data = {"evidence": row.id, "sha256": row.sha256, "camera": row.camera}
        await repo.record_event(s, audit_id, "capture", actor, data)
    room = app.hub.rooms.get(audit_id)
    if room is not None:
        await room.broadcast({"type": "captured", "item": evidence_json(row)}, skip=requester)
    return row
