"""The guided walkthrough: an audit's template snapshot, its current checkpoint and results.

Glue between the checkpoint templates, the database and the live room: navigating,
recording results (with the capture rule), telling everyone what to show next in their
own language, and completing the audit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server import export
from server.checklists import Checkpoint, Template, builtin_templates, load_template
from server.context import AppContext
from server.db import repo, walkthrough_repo
from server.db.engine import Database
from server.db.models import Audit, CheckpointResult
from server.errors import ApiError
from server.outcome import RESULTS, CheckpointFacts, ResultFacts, evaluate, open_checkpoints

DEFAULT_TEMPLATE = "ctpat-fm-walkthrough"
RESULT_LABELS = {
    "meets": "Meets",
    "does_not_meet": "Does not meet",
    "not_applicable": "Not applicable",
    "follow_up": "Follow-up",
}


async def available_templates(app: AppContext) -> dict[str, tuple[Template, str]]:
    """Every template by key: built-in ones, overridden by the newest uploaded version."""
    out = {k: (t, "builtin") for k, t in builtin_templates().items()}
    async with app.db.session() as s:
        for row in await walkthrough_repo.list_custom_templates(s):
            out[row.key] = (load_template(row.source, f"{row.key} v{row.version}"), "custom")
    return out


async def resolve_template(app: AppContext, key: str) -> Template:
    found = (await available_templates(app)).get(key)
    if found is None:
        raise ApiError(422, "invalid", f"unknown template {key!r}")
    return found[0]


def template_of(audit: Audit) -> Template | None:
    if audit.template_snapshot is None:
        return None
    return Template.from_dict(audit.template_snapshot)


def require_template(audit: Audit) -> Template:
    template = template_of(audit)
    if template is None:
        raise ApiError(409, "no_template", "this audit has no checkpoint template")
    return template


def require_open(audit: Audit) -> None:
    if audit.status != "open":
        raise ApiError(409, "audit_completed", "the audit is completed and sealed: nothing can be changed")


def facts(template: Template) -> list[CheckpointFacts]:
    return [
        CheckpointFacts(c.key, c.title, c.level, tuple(c.criteria), c.optional, c.captures_required)
        for c in template.checkpoints()
    ]


def result_facts(rows: dict[str, CheckpointResult]) -> dict[str, ResultFacts]:
    return {k: ResultFacts(r.result, r.note, r.corrective_action, r.due_date) for k, r in rows.items()}


def checkpoint_json(cp: Checkpoint, index: int, lang: str | None = None) -> dict[str, Any]:
    return {
        "key": cp.key,
        "index": index,
        "title": cp.title,
        "criteria": list(cp.criteria),
        "level": cp.level,
        "kind": cp.kind,
        "optional": cp.optional,
        "captures_required": cp.captures_required,
        "guidance": cp.guidance,
        "instruction": cp.instruction.get("en", ""),
    }


async def checkpoints_view(db: Database, audit: Audit) -> dict[str, Any]:
    """Every checkpoint with its state, result and evidence counts: what the console shows."""
    template = require_template(audit)
    async with db.session() as s:
        rows = await walkthrough_repo.results(s, audit.id)
        counts = await walkthrough_repo.evidence_counts(s, audit.id)
    sections = []
    index = 0
    for section in template.sections:
        items = []
        for cp in section.checkpoints:
            row = rows.get(cp.key)
            count = counts.get(cp.key, {})
            item = checkpoint_json(cp, index) | {
                "state": row.result if row else ("current" if audit.current_checkpoint == cp.key else "open"),
                "result": row.result if row else None,
                "note": row.note if row else None,
                "corrective_action": row.corrective_action if row else None,
                "due_date": row.due_date.isoformat() if row and row.due_date else None,
                "captures": count.get("capture", 0),
                "photos": count.get("photo", 0),
            }
            items.append(item)
            index += 1
        sections.append({"key": section.key, "title": section.title, "checkpoints": items})
    total = index
    done = sum(1 for r in rows.values() if r.result != "follow_up")
    return {
        "template": {"key": template.key, "version": template.version, "title": template.title},
        "current": audit.current_checkpoint,
        "progress": {"done": done, "total": total},
        "sections": sections,
    }


def staff_message(template: Template, key: str | None, lang: str | None) -> dict[str, Any]:
    """The `checkpoint` message for the phone: only what the person filming needs, in their language."""
    if key is None:
        return {"type": "checkpoint", "checkpoint": None}
    cps = template.checkpoints()
    index = next(i for i, c in enumerate(cps) if c.key == key)
    cp = cps[index]
    return {
        "type": "checkpoint",
        "checkpoint": {
            "key": cp.key,
            "index": index,
            "total": len(cps),
            "title": cp.title,
            "instruction": template.instruction(cp.key, lang or "en"),
            "lang": lang or "en",
        },
    }


def auditor_message(template: Template, key: str | None) -> dict[str, Any]:
    if key is None:
        return {"type": "checkpoint", "checkpoint": None}
    cps = template.checkpoints()
    index = next(i for i, c in enumerate(cps) if c.key == key)
    return {"type": "checkpoint", "checkpoint": checkpoint_json(cps[index], index) | {"total": len(cps)}}


async def announce(app: AppContext, audit: Audit, template: Template) -> None:
    """Tell everyone in the live room what the current checkpoint is (each in their language)."""
    room = app.hub.rooms.get(audit.id)
    if room is None:
        return
    for p in list(room.participants.values()):
        if p.role == "staff":
            await p.send(staff_message(template, audit.current_checkpoint, p.lang))
        else:
            await p.send(auditor_message(template, audit.current_checkpoint))


async def goto(app: AppContext, audit: Audit, key: str | None, actor: str) -> None:
    require_open(audit)
    template = require_template(audit)
    if key is not None and template.checkpoint(key) is None:
        raise ApiError(404, "not_found", f"no checkpoint {key!r} in this audit's template")
    async with app.db.session() as s:
        fresh = await repo.get_audit(s, audit.id)
        assert fresh is not None
        await walkthrough_repo.set_current(s, fresh, key)
        await repo.record_event(s, audit.id, "checkpoint", actor, {"checkpoint": key})
    audit.current_checkpoint = key
    await announce(app, audit, template)


def parse_due(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ApiError(422, "invalid", "'due_date' must be a date like 2027-01-31")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(422, "invalid", "'due_date' must be a date like 2027-01-31") from exc


async def record_result(
    app: AppContext, audit: Audit, key: str, body: dict[str, Any], actor: str
) -> CheckpointResult:
    """Set a checkpoint's result; "meets" needs the captures the template asks for."""
    require_open(audit)
    template = require_template(audit)
    cp = template.checkpoint(key)
    if cp is None:
        raise ApiError(404, "not_found", f"no checkpoint {key!r} in this audit's template")
    result = body.get("result")
    if result not in RESULTS:
        raise ApiError(422, "invalid", f"'result' must be one of {', '.join(RESULTS)}")
    note = _text(body, "note", 4000)
    action = _text(body, "corrective_action", 4000)
    due = parse_due(body.get("due_date"))
    async with app.db.session() as s:
        counts = (await walkthrough_repo.evidence_counts(s, audit.id)).get(key, {})
        have = counts.get("capture", 0) + counts.get("photo", 0)
        if result == "meets" and have < cp.captures_required:
            raise ApiError(
                409,
                "captures_required",
                f"'{cp.title}' needs {cp.captures_required} capture(s) before it can be marked meets; "
                f"it has {have}",
            )
        verified_by = "photo" if counts.get("photo", 0) and not counts.get("capture", 0) else "live"
        row = await walkthrough_repo.set_result(
            s,
            audit.id,
            key,
            result=result,
            note=note,
            corrective_action=action,
            due_date=due,
            verified_by=verified_by,
            updated_by=actor,
        )
        await repo.record_event(
            s, audit.id, "result", actor, {"checkpoint": key, "result": result, "note": note}
        )
    room = app.hub.rooms.get(audit.id)
    if room is not None:
        msg = {"type": "checkpoint-result", "key": key, "result": result, "note": note}
        for p in list(room.participants.values()):
            if p.role == "auditor":
                await p.send(msg)
    return row


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(422, "invalid", f"'{name}' must be text of at most {limit} characters")
    return value.strip() or None


async def complete(app: AppContext, audit: Audit, confirm_open: bool, actor: str) -> dict[str, Any]:
    """End the audit: compute and freeze the outcome, make the audit read-only."""
    require_open(audit)
    template = require_template(audit)
    async with app.db.session() as s:
        rows = await walkthrough_repo.results(s, audit.id)
    cps = facts(template)
    still_open = open_checkpoints(cps, result_facts(rows))
    if still_open and not confirm_open:
        raise ApiError(
            409,
            "open_checkpoints",
            f"{len(still_open)} checkpoint(s) are still open; "
            "confirm to complete and list them as not assessed",
        )
    outcome = evaluate(cps, result_facts(rows), dt.datetime.now(dt.UTC).date()).to_dict()
    outcome["open_at_completion"] = still_open
    outcome["ict"] = await ict_summary(app, audit, rows)
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
            await repo.record_event(
                s, audit_id, "complete", actor, {"outcome": outcome} | report, sealing=True
            )
        await app.signer.sign(audit_id)  # the final tree head commits to the whole audit
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
    }
