"""Completing an audit: the rules a completion must meet, the frozen outcome, the seal.

An audit cannot pass by accident: open checkpoints need the auditor's confirmation, and an
audit whose facility camera never went live, or with a must checkpoint marked not
applicable, needs a written reason for each (:func:`server.outcome.reasons_required`).
Nor can it end with photos still on a phone unnoticed: while a phone's last report holds
photos not yet uploaded (they could never be sent afterwards), the key ``photos_queued``
needs a reason too. The reasons are kept in the outcome, so in the completion's ledger
entry and the report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from server import capa, export
from server.checklists import Template
from server.context import AppContext
from server.db import queue_repo, repo, walkthrough_repo
from server.db.models import Audit, CheckpointResult
from server.errors import ApiError
from server.outcome import NEVER_LIVE, evaluate, open_checkpoints, reasons_required, state_of
from server.views import iso
from server.walkthrough import facts, require_open, require_template, result_facts

MAX_REASON_CHARS = 2000
MAX_REASON_KEY_CHARS = 100
NEVER_LIVE_LABEL = "The facility camera never went live: no video reached the server"
PHOTOS_QUEUED = "photos_queued"


@dataclass(frozen=True)
class CompletionRequest:
    """The body of ``POST /api/audits/{id}/complete``, validated."""

    confirm_open: bool
    reasons: dict[str, str]


def parse_request(body: dict[str, Any]) -> CompletionRequest:
    confirm = body.get("confirm_open", False)
    if not isinstance(confirm, bool):
        raise ApiError(422, "invalid", "'confirm_open' must be true or false")
    raw = body.get("reasons") or {}
    if not isinstance(raw, dict):
        raise ApiError(422, "invalid", "'reasons' must be an object of key: text")
    reasons: dict[str, str] = {}
    for key, text in raw.items():
        if len(key) > MAX_REASON_KEY_CHARS or not isinstance(text, str) or len(text) > MAX_REASON_CHARS:
            raise ApiError(
                422, "invalid", f"every reason must be text of at most {MAX_REASON_CHARS} characters"
            )
        if text.strip():
            reasons[key] = text.strip()
    return CompletionRequest(confirm, reasons)


@dataclass(frozen=True)
class Preconditions:
    """What completing this audit now asks of the auditor."""

    open_keys: list[str]
    reason_keys: list[str]
    ever_live: bool
    queued: list[queue_repo.Waiting]  # phones still holding photos not uploaded yet

    @property
    def photos_queued(self) -> int:
        return sum(q.count for q in self.queued)


async def preconditions(app: AppContext, audit: Audit, template: Template) -> Preconditions:
    async with app.db.session() as s:
        rows = await walkthrough_repo.results(s, audit.id)
        ever_live = await walkthrough_repo.video_ever_arrived(s, audit.id)
        queued = await queue_repo.waiting(s, audit.id)
    cps, results = facts(template), result_facts(rows)
    reasons = reasons_required(cps, results, ever_live) + ([PHOTOS_QUEUED] if queued else [])
    return Preconditions(open_checkpoints(cps, results), reasons, ever_live, queued)


def queued_label(count: int) -> str:
    photos = "1 photo" if count == 1 else f"{count} photos"
    return (
        f"{photos} taken on the facility phone not uploaded yet: "
        "completing now leaves them on the phone, never in the audit"
    )


def queued_json(queued: list[queue_repo.Waiting]) -> dict[str, Any]:
    """What the phones last reported of their photos not uploaded yet."""
    return {
        "count": sum(q.count for q in queued),
        "bytes": sum(q.bytes for q in queued),
        "phones": [
            {"name": q.name, "count": q.count, "bytes": q.bytes, "reported_at": iso(q.reported_at)}
            for q in queued
        ],
    }


def reason_label(template: Template, key: str, photos_queued: int = 0) -> str:
    if key == NEVER_LIVE:
        return NEVER_LIVE_LABEL
    if key == PHOTOS_QUEUED:
        return queued_label(photos_queued)
    cp = template.checkpoint(key)
    title = cp.title if cp else key
    return f"{title}: a MUST checkpoint marked not applicable"


async def preview(app: AppContext, audit: Audit) -> dict[str, Any]:
    """What the completion dialog asks: the open checkpoints to confirm and the reasons to write."""
    require_open(audit)
    template = require_template(audit)
    pre = await preconditions(app, audit, template)
    async with app.db.session() as s:
        rows = await walkthrough_repo.results(s, audit.id)
    cps = {c.key: c for c in facts(template)}
    return {
        "open_checkpoints": [
            {
                "key": k,
                "title": cps[k].title,
                "level": cps[k].level,
                "state": state_of(cps[k], result_facts(rows)),
            }
            for k in pre.open_keys
        ],
        "reasons_required": [
            {"key": k, "label": reason_label(template, k, pre.photos_queued)} for k in pre.reason_keys
        ],
        "media_ever_live": pre.ever_live,
        "photos_queued": queued_json(pre.queued),
    }


async def complete(app: AppContext, audit: Audit, request: CompletionRequest, actor: str) -> dict[str, Any]:
    """End the audit: check the rules, compute and freeze the outcome, make the audit read-only."""
    require_open(audit)
    template = require_template(audit)
    pre = await preconditions(app, audit, template)
    if pre.open_keys and not request.confirm_open:
        raise ApiError(
            409,
            "open_checkpoints",
            f"{len(pre.open_keys)} checkpoint(s) are still open; "
            "confirm to complete and list them as not assessed",
            details={"keys": pre.open_keys},
        )
    missing = [k for k in pre.reason_keys if k not in request.reasons]
    if missing:
        raise ApiError(
            409,
            "reason_required",
            "completing this audit needs a written reason for: "
            + "; ".join(reason_label(template, k, pre.photos_queued) for k in missing),
            details={"keys": missing},
        )
    async with app.db.session() as s:
        rows = await walkthrough_repo.results(s, audit.id)
    outcome = evaluate(facts(template), result_facts(rows), dt.datetime.now(dt.UTC).date()).to_dict()
    outcome["open_at_completion"] = pre.open_keys
    outcome["reasons"] = [
        {"key": k, "label": reason_label(template, k, pre.photos_queued), "reason": request.reasons[k]}
        for k in pre.reason_keys
    ]
    if pre.queued:  # what stayed on the phones, as they last reported it
        outcome["photos_queued"] = queued_json(pre.queued)
    outcome["ict"] = await ict_summary(app, audit, rows) | {"media_ever_live": pre.ever_live}
    await seal(app, audit.id, outcome, actor)
    return outcome


async def seal(app: AppContext, audit_id: str, outcome: dict[str, Any], actor: str) -> None:
    """Close the room, then commit the completion as the audit's last ledger entry and sign it.

    Everyone live is told and disconnected first, so their leave events and the recorder's
    last segment land before the completion entry; from then on the ledger refuses appends.
    """
    app.sockets.sealing.add(audit_id)
    try:
        notice = {
            "type": "audit-completed",
            "outcome": {"result": outcome["result"], "score": outcome["score"]},
            "message": "This audit is finished. Thank you.",
        }
        await app.sockets.close_audit(audit_id, notice)
        await app.hub.close_room(audit_id)
        async with app.db.session() as s:
            fresh = await repo.get_audit(s, audit_id)
            assert fresh is not None
            walkthrough_repo.mark_completed(fresh, outcome)
            report = await sealed_report(app, fresh)
            s.add(fresh)
            actions = await capa.create_actions(s, fresh)  # each finding: a corrective action
            await repo.record_event(
                s, audit_id, "complete", actor, {"outcome": outcome} | report, sealing=True, rows=actions
            )
        await app.signer.sign(audit_id)  # the final tree head commits to the whole audit
        await app.repository.record_completion(audit_id)  # and the repository log publishes it
    finally:
        app.sockets.sealing.discard(audit_id)


async def sealed_report(app: AppContext, audit: Audit) -> dict[str, Any]:
    """The report as it stands at completion, kept in the evidence store before the completion
    commits; returns what the completion entry says of it (SHA-256, size, path in the export)."""
    return await export.seal_report(app.db, app.recorders.store, app.templates, audit)


async def ict_summary(app: AppContext, audit: Audit, rows: dict[str, CheckpointResult]) -> dict[str, Any]:
    """How ICT was used and how well it worked (IAF MD 4): the report states it."""
    async with app.db.session() as s:
        events = await repo.list_events(s, audit.id)
    joins = [e for e in events if e.kind == "join"]
    staff_joins = [e for e in joins if e.data.get("role") == "staff"]
    first = joins[0].at if joins else None
    duration = (dt.datetime.now(dt.UTC) - first).total_seconds() if first else 0.0
    assessed = [r for r in rows.values() if r.result in ("meets", "does_not_meet")]
    by_photo = sum(1 for r in assessed if r.verified_by == "photo")
    room = app.hub.rooms.get(audit.id)
    recorder = app.recorders.by_audit.get(audit.id)
    return {
        "duration_seconds": round(duration),
        "staff_connections": len(staff_joins),
        "reconnections": max(0, len(staff_joins) - 1),
        "checkpoints_assessed": len(assessed),
        "verified_by_live_video": len(assessed) - by_photo,
        "verified_by_photo": by_photo,
        "media_live_at_completion": bool(room and room.is_live()),
        "stills_dropped": recorder.stats["stills_dropped"] if recorder else 0,
        "pauses": sum(1 for e in events if e.kind == "pause"),
    }
