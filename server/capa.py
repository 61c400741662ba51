"""Corrective actions (CAPA): the findings of a completed audit, followed up after it.

At completion every must/should checkpoint found not to meet its criteria becomes a
corrective action (:func:`create_actions`, called by :func:`server.completion.seal`).
The facility answers them through a long-lived, revocable link (a ``CapaLink``, no
account), with text and perhaps a photo; the audit's auditors or a reviewer of its firm
accept or reject each answer. Every response and decision is appended to the **audit's
own ledger** as a ``corrective-action`` entry, the one kind of entry a completed audit's
ledger still takes (docs/ledger.md), and a fresh tree head is signed after each.

When the last action is accepted, the certificate is re-evaluated under the rule of
server/certificates.py (:func:`server.certificates.reevaluate`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.ledger import CORRECTIVE_ACTION
from server import capa_video
from server.context import AppContext
from server.db import walkthrough_repo
from server.db.ledger_repo import commit_with_entry
from server.db.models import (
    Audit,
    CapaLink,
    CorrectiveAction,
    CorrectiveActionEntry,
    new_id,
    utcnow,
)
from server.errors import ApiError
from server.recording import keep_upload
from server.views import iso
from server.walkthrough import template_of

DUE_DAYS = 30  # when the auditor set no due date
LEVELS = ("must", "should")
STATUSES = ("open", "responded", "accepted", "rejected")
DECISIONS = ("accept", "reject")
PHOTO_FORMATS = ("jpeg", "png", "webp")
VIDEO_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}
MAX_TEXT_CHARS = 5000
FACILITY = "The facility"


async def create_actions(s: AsyncSession, audit: Audit) -> list[CorrectiveAction]:
    """One action per finding (a must/should checkpoint that does not meet), not yet added:
    the completion entry commits them with the audit's seal."""
    template = template_of(audit)
    if template is None:
        return []
    results = await walkthrough_repo.results(s, audit.id)
    completed = audit.completed_at or utcnow()
    actions = []
    for section in template.sections:
        for cp in section.checkpoints:
            row = results.get(cp.key)
            if row is None or row.result != "does_not_meet" or cp.level not in LEVELS:
                continue
            text = (row.corrective_action or "").strip() or (row.note or "").strip() or cp.title
            actions.append(
                CorrectiveAction(
                    id=new_id(),
                    audit_id=audit.id,
                    checkpoint_key=cp.key,
                    title=cp.title,
                    level=cp.level,
                    description=text,
                    due_date=row.due_date or (completed + dt.timedelta(days=DUE_DAYS)).date(),
                    status="open",
                )
            )
    return actions


async def actions_of(s: AsyncSession, audit_id: str) -> list[CorrectiveAction]:
    rows = await s.execute(
        select(CorrectiveAction)
        .where(CorrectiveAction.audit_id == audit_id)
        .order_by(CorrectiveAction.created_at, CorrectiveAction.checkpoint_key)
    )
    return list(rows.scalars())


async def entries_of(s: AsyncSession, audit_id: str) -> list[CorrectiveActionEntry]:
    rows = await s.execute(
        select(CorrectiveActionEntry)
        .where(CorrectiveActionEntry.audit_id == audit_id)
        .order_by(CorrectiveActionEntry.created_at, CorrectiveActionEntry.id)
    )
    return list(rows.scalars())


def photo_path(entry: CorrectiveActionEntry) -> str:
    """Where a response's photo sits inside the export package."""
    suffix = (entry.blob or ".jpg")[(entry.blob or ".jpg").rfind(".") :]
    return f"evidence/corrective-actions/{entry.id}{suffix}"


def video_path(entry: CorrectiveActionEntry) -> str:
    """Where a response's video sits inside the export package."""
    blob = entry.video_blob or ".mp4"
    return f"evidence/corrective-actions/{entry.id}-video{blob[blob.rfind('.') :]}"


def entry_json(
    entry: CorrectiveActionEntry, photo_url: str | None = None, video_url: str | None = None
) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "text": entry.text,
        "decision": entry.decision,
        "by": entry.actor_name,
        "at": iso(entry.created_at),
        "ledger_seq": entry.ledger_seq,
        "photo": (
            {"sha256": entry.sha256, "size": entry.size, "width": entry.width, "height": entry.height}
            | ({"url": photo_url} if photo_url else {})
            if entry.blob
            else None
        ),
        "video": (
            {
                "sha256": entry.video_sha256,
                "size": entry.video_size,
                "duration_ms": entry.video_duration_ms,
                "codec": entry.video_codec,
                "type": VIDEO_TYPES.get(entry.video_blob.rsplit(".", 1)[-1], "video/mp4"),
            }
            | ({"url": video_url} if video_url else {})
            if entry.video_blob
            else None
        ),
    }


def action_json(
    action: CorrectiveAction,
    entries: list[CorrectiveActionEntry],
    today: dt.date,
    media_url: Any = None,
) -> dict[str, Any]:
    """``media_url(entry, "photo" | "video")``: where the reader fetches a response's files."""
    mine = [e for e in entries if e.action_id == action.id]
    closed = action.status == "accepted"
    return {
        "id": action.id,
        "checkpoint": action.checkpoint_key,
        "title": action.title,
        "level": action.level,
        "description": action.description,
        "due_date": action.due_date.isoformat(),
        "overdue": not closed and action.due_date < today,
        "status": action.status,
        "closed_at": iso(action.closed_at) if action.closed_at else None,
        "responses": [
            entry_json(e, media_url(e, "photo"), media_url(e, "video")) if media_url else entry_json(e)
            for e in mine
            if e.kind == "response"
        ],
        "decisions": [entry_json(e) for e in mine if e.kind == "decision"],
    }


async def list_json(app: AppContext, audit_id: str, media_url: Any = None) -> list[dict[str, Any]]:
    async with app.db.session() as s:
        actions = await actions_of(s, audit_id)
        entries = await entries_of(s, audit_id)
    today = dt.datetime.now(dt.UTC).date()
    return [action_json(a, entries, today, media_url) for a in actions]


# Responses and decisions: each one an entry of the audit's ledger


def clean_text(raw: Any, name: str, *, required: bool) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str) or len(raw) > MAX_TEXT_CHARS:
        raise ApiError(422, "invalid", f"'{name}' must be text of at most {MAX_TEXT_CHARS} characters")
    text = raw.strip()
    if required and not text:
        raise ApiError(422, "invalid", f"'{name}' must not be empty")
    return text


async def _action(s: AsyncSession, audit_id: str, action_id: str) -> CorrectiveAction:
    action = await s.get(CorrectiveAction, action_id) if len(action_id) <= 64 else None
    if action is None or action.audit_id != audit_id:
        raise ApiError(404, "not_found", "no such corrective action in this audit")
    return action


async def respond(
    app: AppContext,
    link: CapaLink,
    audit: Audit,
    action_id: str,
    text: str,
    photo: bytes | None,
    video: bytes | None = None,
) -> dict[str, Any]:
    """The facility's response: stored, its photo and video kept in the evidence store, the
    ledger appended. A file written but never committed (a crash in between) is swept aside
    at the next start (server/recovery.py)."""
    if audit.status != "completed":
        raise ApiError(409, "not_completed", "corrective actions follow a completed audit")
    async with app.db.session() as s:
        _may_respond(await _action(s, audit.id, action_id))  # before the photo is stored
    entry = CorrectiveActionEntry(
        id=new_id(),
        action_id=action_id,
        audit_id=audit.id,
        kind="response",
        text=text,
        actor=f"capa-link:{link.id}",
        actor_name=FACILITY,
    )
    # Both files are checked before either is kept: a refused response leaves nothing behind.
    info = await app.photos.check(photo) if photo is not None else None
    if info is not None and info.format not in PHOTO_FORMATS:
        raise ApiError(415, "unsupported_image", "send the photo as JPEG, PNG or WebP")
    clip = await capa_video.probe(video) if video is not None else None
    if photo is not None and info is not None:
        entry.blob = f"{audit.id}/corrective-actions/{entry.id}{info.suffix}"
        stored = await keep_upload(app.recorders.store, entry.blob, photo, "photo")
        entry.sha256, entry.size, entry.width, entry.height = (
            stored.sha256,
            stored.size,
            info.width,
            info.height,
        )
    if video is not None and clip is not None:
        entry.video_blob = f"{audit.id}/corrective-actions/{entry.id}-video{clip.suffix}"
        kept = await keep_upload(app.recorders.store, entry.video_blob, video, "video")
        entry.video_sha256, entry.video_size = kept.sha256, kept.size
        entry.video_duration_ms, entry.video_codec = clip.duration_ms, clip.codec
    await _append(app, audit.id, action_id, entry, "responded", _may_respond)
    return entry_json(entry)


def _may_respond(action: CorrectiveAction) -> None:
    if action.status == "accepted":
        raise ApiError(409, "action_closed", "this corrective action was already accepted")


def _may_decide(action: CorrectiveAction) -> None:
    if action.status != "responded":
        why = "was already accepted" if action.status == "accepted" else "has no response to decide on"
        raise ApiError(409, "nothing_to_decide", f"this corrective action {why}")


async def decide(
    app: AppContext, audit: Audit, action_id: str, decision: str, comment: str, actor: str, name: str
) -> tuple[dict[str, Any], bool]:
    """Accept or reject the facility's response; returns the decision and whether every action
    of the audit is now accepted (then the certificate is re-evaluated)."""
    if decision not in DECISIONS:
        raise ApiError(422, "invalid", "'decision' must be 'accept' or 'reject'")
    entry = CorrectiveActionEntry(
        id=new_id(),
        action_id=action_id,
        audit_id=audit.id,
        kind="decision",
        text=comment,
        decision=decision,
        actor=actor,
        actor_name=name,
    )
    status = "accepted" if decision == "accept" else "rejected"
    await _append(app, audit.id, action_id, entry, status, _may_decide)
    async with app.db.session() as s:
        actions = await actions_of(s, audit.id)
    return entry_json(entry), all(a.status == "accepted" for a in actions)


async def _append(
    app: AppContext,
    audit_id: str,
    action_id: str,
    entry: CorrectiveActionEntry,
    status: str,
    check: Callable[[CorrectiveAction], None],
) -> None:
    """Commit the entry, the action's new status and their ledger entry together; sign a head.

    The status changes by a conditional UPDATE (only from a status ``check`` accepts), inside
    the transaction that appends the ledger entry: of two decisions racing on one response,
    the second finds the status already changed and is refused (409), never both applied."""
    async with app.db.session() as s:
        action = await _action(s, audit_id, action_id)
        check(action)  # the clear answer in the common case; the UPDATE below is the guarantee
        closed_at = utcnow() if status == "accepted" else None

        async def claim() -> None:
            done = await s.execute(
                update(CorrectiveAction)
                .where(CorrectiveAction.id == action_id, CorrectiveAction.status.in_(_FROM[status]))
                .values(status=status, closed_at=closed_at)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) != 1:
                now = await s.scalar(select(CorrectiveAction.status).where(CorrectiveAction.id == action_id))
                await s.rollback()
                check(CorrectiveAction(status=now))
                raise ApiError(409, "conflict", "this corrective action changed meanwhile: reload")

        def fields() -> dict[str, Any]:
            data: dict[str, Any] = {"entry": entry.id, "text": entry.text, "status": status}
            if entry.decision is not None:
                data["decision"] = entry.decision
            value: dict[str, Any] = {
                "type": CORRECTIVE_ACTION,
                "action": action.id,
                "checkpoint": action.checkpoint_key,
                "kind": entry.kind,
                "actor": entry.actor,
                "data": data,
            }
            if entry.blob is not None:
                value |= {"sha256": entry.sha256, "size": entry.size, "path": photo_path(entry)}
            if entry.video_blob is not None:
                value |= {
                    "video_sha256": entry.video_sha256,
                    "video_size": entry.video_size,
                    "video_path": video_path(entry),
                }
                data["video"] = {"duration_ms": entry.video_duration_ms, "codec": entry.video_codec}
            return value

        seq = await commit_with_entry(s, audit_id, [entry], fields, claim, after_completion_ok=True)
        entry.ledger_seq = seq
        s.add(entry)
        await s.commit()
    await app.signer.sign(audit_id)


# The statuses each new status may follow: a response to anything not yet accepted, a
# decision only to a response.
_FROM: dict[str, tuple[str, ...]] = {
    "responded": ("open", "responded", "rejected"),
    "accepted": ("responded",),
    "rejected": ("responded",),
}
