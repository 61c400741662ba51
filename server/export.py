"""Builds an audit's export package: evidence, recording, ledger, signed heads, manifest, report.

The same audit exported twice gives byte-identical zips (nothing here depends on the time
of the export). The report is rendered once, at completion (:func:`seal_report`), and the
completion entry names it by its SHA-256; an audit completed before that gets one rendered
here, dated by the last signed tree head, as an extra file. Used by the HTTP export
and by ``virtual-audit export``, which runs against the data directory without a server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.templating import Jinja2Templates

from recorder import FileStore
from recorder.ledger import SignedTreeHead, corrective_file, corrective_video, sealed_report
from recorder.package import PackageFile, write_package
from server import capa, report, walkthrough
from server.db import evidence_repo, ledger_repo, repo, walkthrough_repo
from server.db.engine import Database
from server.db.evidence_repo import package_path
from server.db.ledger_repo import ledger_safe
from server.db.models import Audit
from server.ledger_service import LedgerSigner, head_json
from server.views import audit_json, evidence_json, iso

Progress = Callable[[int, int], None]
REPORT = "report.html"  # its path in the package


class ExportError(Exception):
    """The audit cannot be exported; the message says why."""


async def build_export(
    db: Database,
    store: FileStore,
    signer: LedgerSigner,
    templates: Jinja2Templates,
    audit_id: str,
    out: Path,
    progress: Progress | None = None,
) -> None:
    """Write the audit's package to ``out`` (atomically)."""
    async with db.session() as s:
        audit = await repo.get_audit(s, audit_id)
    if audit is None:
        raise ExportError(f"no audit {audit_id!r}")
    await signer.sign(audit_id)  # the last head must cover every entry
    async with db.session() as s:
        entries = await ledger_repo.entries(s, audit_id)
        heads = await ledger_repo.heads(s, audit_id)
        evidence = {e.id: e for e in await evidence_repo.list_evidence(s, audit_id, limit=10**9)}
        segments = {g.seq: g for g in await evidence_repo.list_segments(s, audit_id)}
        consents = await walkthrough_repo.consents(s, audit_id)
        notes = [n for e in evidence.values() for n in await walkthrough_repo.list_annotations(s, e.id)]
        named = await report.people(s, audit)
        answers = {e.id: e for e in await capa.entries_of(s, audit_id)}
        actions = await capa.actions_of(s, audit_id)
    values = [json.loads(e.body) for e in entries]
    files = package_files(store, values, evidence, segments, answers)
    manifest = await build_manifest(db, audit, consents, notes)
    extra_files = {"app.css": stylesheet()}
    if actions:
        when = dt.datetime.now(dt.UTC)
        extra_files[CORRECTIVE_PAGE] = render_corrective_actions(
            templates, audit, actions, values, answers, when
        ).encode()
    if not any(sealed_report(v) for v in values):
        # Completed before reports were sealed, or not completed: rendered now, not evidence.
        when = dt.datetime.fromtimestamp(heads[-1].timestamp_ms / 1000, dt.UTC)
        extra_files["report.html"] = render_report(templates, audit, manifest, evidence, when, named).encode()
    await asyncio.to_thread(
        write_package,
        out,
        manifest=manifest,
        files=files,
        entries=[e.body.encode("utf-8") for e in entries],
        tree_heads=[SignedTreeHead.from_json(head_json(h)) for h in heads],
        public_key_pem=signer.public_pem,
        extra_files=extra_files,
        progress=progress,
    )


CORRECTIVE_PAGE = "corrective-actions.html"


def render_corrective_actions(
    templates: Jinja2Templates,
    audit: Audit,
    actions: list[Any],
    values: list[dict[str, Any]],
    answers: dict[str, Any],
    when: dt.datetime,
) -> str:
    """Each corrective action with the responses and decisions its ledger entries hold, the
    photos and videos pointing into the package (the files verify checks)."""
    items = []
    for action in actions:
        history = []
        for v in values:
            if v.get("type") != "corrective-action" or v.get("action") != action.id:
                continue
            data = v.get("data") or {}
            row = answers.get(str(data.get("entry")))
            history.append(
                {
                    "kind": v.get("kind"),
                    "seq": v.get("seq"),
                    "text": data.get("text"),
                    "decision": data.get("decision"),
                    "by": row.actor_name if row is not None else v.get("actor"),
                    "photo": v.get("path"),
                    "video": v.get("video_path"),
                }
            )
        items.append(
            {
                "title": action.title,
                "level": action.level,
                "checkpoint": action.checkpoint_key,
                "description": action.description,
                "due_date": action.due_date.isoformat(),
                "status": action.status,
                "closed_at": iso(action.closed_at) if action.closed_at else None,
                "entries": history,
            }
        )
    context = {"audit": audit_json(audit), "actions": items, "generated_at": iso(when)}
    return templates.env.get_template("corrective_actions_export.html").render(context)


def report_blob(audit_id: str) -> str:
    """Where the report rendered at completion is kept in the evidence store."""
    return f"{audit_id}/report.html"


async def seal_report(
    db: Database, store: FileStore, templates: Jinja2Templates, audit: Audit
) -> dict[str, Any]:
    """Render the report of ``audit`` (its completion fields already set, not yet committed),
    keep it in the evidence store, and return what the completion entry says of it: the
    export ships exactly this file, and verify checks it against ``report_sha256``."""
    async with db.session() as s:
        evidence = {e.id: e for e in await evidence_repo.list_evidence(s, audit.id, limit=10**9)}
        consents = await walkthrough_repo.consents(s, audit.id)
        notes = [n for e in evidence.values() for n in await walkthrough_repo.list_annotations(s, e.id)]
        named = await report.people(s, audit)
    manifest = await build_manifest(db, audit, consents, notes)
    when = audit.completed_at or dt.datetime.now(dt.UTC)
    html = render_report(templates, audit, manifest, evidence, when, named).encode("utf-8")
    stored = await asyncio.to_thread(store.put, report_blob(audit.id), html)
    return {"report_sha256": stored.sha256, "report_size": stored.size, "report_path": REPORT}


def package_files(
    store: FileStore,
    entries: list[dict[str, Any]],
    evidence: dict[str, Any],
    segments: dict[int, Any],
    answers: dict[str, Any] | None = None,
) -> list[PackageFile]:
    """The file behind every file entry of the ledger (``answers``: corrective-action entries by id)."""
    files: list[PackageFile] = []
    for entry in entries:
        kind = entry["type"]
        if corrective_file(entry) or corrective_video(entry):
            answer = (answers or {}).get(entry["data"].get("entry"))
            if corrective_file(entry):
                if answer is None or answer.blob is None:
                    raise ExportError(f"ledger entry {entry['seq']}: the corrective-action photo is missing")
                files.append(
                    PackageFile(entry["path"], _source(store, answer.blob), answer.sha256, answer.size)
                )
            if corrective_video(entry):
                if answer is None or answer.video_blob is None:
                    raise ExportError(f"ledger entry {entry['seq']}: the corrective-action video is missing")
                source = _source(store, answer.video_blob)
                files.append(PackageFile(entry["video_path"], source, answer.video_sha256, answer.video_size))
        elif kind in ("still", "capture", "photo"):
            row = evidence.get(entry["evidence_id"])
            if row is None:
                raise ExportError(f"ledger entry {entry['seq']}: evidence {entry['evidence_id']} is missing")
            files.append(PackageFile(entry["path"], _source(store, row.blob), row.sha256, row.size))
        elif (sealed := sealed_report(entry)) is not None:
            path = _source(store, report_blob(entry["audit"]))
            files.append(PackageFile(REPORT, path, sealed["report_sha256"], sealed["report_size"]))
        elif kind == "segment":
            seg = segments.get(entry["seq_no"])
            if seg is None:
                raise ExportError(f"ledger entry {entry['seq']}: segment {entry['seq_no']} is missing")
            files.append(PackageFile(entry["path"], _source(store, seg.blob), seg.sha256, seg.size))
            index = _source(store, seg.index_blob)
            files.append(PackageFile(entry["index_path"], index, seg.index_sha256, index.stat().st_size))
    return files


def stylesheet() -> bytes:
    from server.app import web_dir

    return (web_dir() / "static" / "css" / "app.css").read_bytes()


def _source(store: FileStore, blob: str) -> Path:
    path = store.path(blob)
    if path is None or not path.exists():
        raise ExportError(f"evidence file {blob} is missing from the store")
    return path


async def build_manifest(db: Database, audit: Audit, consents: list[Any], notes: list[Any]) -> dict[str, Any]:
    view = await walkthrough.checkpoints_view(db, audit) if audit.template_snapshot else None
    results: dict[str, Any] = {}
    checkpoints: list[dict[str, Any]] = []
    for section in view["sections"] if view else []:
        for cp in section["checkpoints"]:
            checkpoints.append(
                {k: cp[k] for k in ("key", "title", "criteria", "level", "optional", "captures_required")}
            )
            if cp["result"] is not None:
                results[cp["key"]] = {
                    "result": cp["result"],
                    "note": cp["note"],
                    "corrective_action": cp["corrective_action"],
                    "due_date": cp["due_date"],
                }
    manifest: dict[str, Any] = {
        "audit": ledger_safe(audit_json(audit) | {"outcome": None}),
        "template": ledger_safe(audit.template_snapshot),
        "checkpoints": checkpoints,
        "results": results,
        "consents": [
            {
                "actor": c.actor,
                "role": c.role,
                "accepted_at": iso(c.accepted_at),
                "notice_sha256": c.notice_sha256,
                "language": c.language,
            }
            for c in consents
        ],
        "annotations": [
            {
                "id": n.id,
                "evidence_id": n.evidence_id,
                "shapes": ledger_safe(n.shapes),
                "created_by": n.created_by,
                "created_at": iso(n.created_at),
            }
            for n in sorted(notes, key=lambda n: (n.created_at, n.id))
        ],
    }
    if audit.outcome is not None:
        manifest["outcome"] = ledger_safe(audit.outcome)
    return manifest


def render_report(
    templates: Jinja2Templates,
    audit: Audit,
    manifest: dict[str, Any],
    evidence: dict[str, Any],
    when: dt.datetime,
    named: report.People,
) -> str:
    """The printable report, with pictures pointing into the package itself."""
    by_checkpoint: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(evidence.values(), key=lambda r: r.seq):
        if row.checkpoint and row.kind != "still":
            item = evidence_json(row) | {"image_url": package_path(row)}
            by_checkpoint.setdefault(row.checkpoint, []).append(item)
    template = walkthrough.template_of(audit)
    sections = []
    for section in template.sections if template else []:
        items = []
        for index, cp in enumerate(section.checkpoints):
            result = manifest["results"].get(cp.key, {})
            items.append(
                walkthrough.checkpoint_json(cp, index)
                | {"state": result.get("result") or "open", "evidence": by_checkpoint.get(cp.key, [])}
                | {k: result.get(k) for k in ("result", "note", "corrective_action", "due_date")}
            )
        sections.append({"key": section.key, "title": section.title, "checkpoints": items})
    context = {
        "request": None,
        "user": None,
        "audit": audit_json(audit),
        "outcome": audit.outcome,
        "sections": sections,
        "template": manifest["template"]
        and {k: manifest["template"].get(k) for k in ("key", "version", "title")},
        "people": named.to_json(),
        "consents": named.consents,
        "generated_at": iso(when),
        "offline": True,
        # Inside the package the report's stylesheet sits next to it.
        "url_for": lambda name, path="": PurePosixPath(path).name,
    }
    return templates.env.get_template("report.html").render(context)
