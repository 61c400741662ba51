"""Data access for the guided walkthrough: templates, results, consent, tech checks, annotations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Annotation,
    Audit,
    CheckpointResult,
    Consent,
    CustomTemplate,
    Evidence,
    Segment,
    TechCheck,
    utcnow,
)


async def latest_custom_template(s: AsyncSession, key: str) -> CustomTemplate | None:
    rows = await s.execute(
        select(CustomTemplate)
        .where(CustomTemplate.key == key)
        .order_by(CustomTemplate.version.desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


async def list_custom_templates(s: AsyncSession) -> list[CustomTemplate]:
    rows = await s.execute(select(CustomTemplate).order_by(CustomTemplate.key, CustomTemplate.version))
    return list(rows.scalars())


async def add_custom_template(s: AsyncSession, **fields: Any) -> CustomTemplate:
    row = CustomTemplate(**fields)
    s.add(row)
    await s.commit()
    return row


async def results(s: AsyncSession, audit_id: str) -> dict[str, CheckpointResult]:
    rows = await s.execute(select(CheckpointResult).where(CheckpointResult.audit_id == audit_id))
    return {r.checkpoint_key: r for r in rows.scalars()}


async def set_result(s: AsyncSession, audit_id: str, checkpoint_key: str, **fields: Any) -> CheckpointResult:
    rows = await s.execute(
        select(CheckpointResult).where(
            CheckpointResult.audit_id == audit_id, CheckpointResult.checkpoint_key == checkpoint_key
        )
    )
    row = rows.scalar_one_or_none()
    if row is None:
        row = CheckpointResult(audit_id=audit_id, checkpoint_key=checkpoint_key, **fields)
        s.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
    await s.commit()
    return row


async def evidence_counts(s: AsyncSession, audit_id: str) -> dict[str, dict[str, int]]:
    """Per checkpoint, how many captures and photos are bound to it."""
    rows = await s.execute(
        select(Evidence.checkpoint, Evidence.kind, func.count())
        .where(Evidence.audit_id == audit_id, Evidence.checkpoint.is_not(None), Evidence.kind != "still")
        .group_by(Evidence.checkpoint, Evidence.kind)
    )
    out: dict[str, dict[str, int]] = {}
    for checkpoint, kind, count in rows.all():
        out.setdefault(str(checkpoint), {})[kind] = int(count)
    return out


async def video_ever_arrived(s: AsyncSession, audit_id: str) -> bool:
    """Whether any video from the facility reached the server: a recorded segment with video
    frames, or a still or capture taken from the live picture (photos are uploads, not video)."""
    segment = await s.execute(
        select(Segment.id).where(Segment.audit_id == audit_id, Segment.video_frames > 0).limit(1)
    )
    if segment.first() is not None:
        return True
    frame = await s.execute(
        select(Evidence.id)
        .where(Evidence.audit_id == audit_id, Evidence.kind.in_(("still", "capture")))
        .limit(1)
    )
    return frame.first() is not None


async def set_current(s: AsyncSession, audit: Audit, checkpoint_key: str | None) -> None:
    audit.current_checkpoint = checkpoint_key
    s.add(audit)
    await s.commit()


async def add_consent(s: AsyncSession, **fields: Any) -> Consent:
    row = Consent(**fields)
    s.add(row)
    await s.commit()
    return row


async def has_consent(
    s: AsyncSession, audit_id: str, actor: str, notice_sha256s: Collection[str], device_id: str | None = None
) -> bool:
    """Has this person (on this device, when the device is known) accepted one of these notices?

    One notice in any language will do: the same notice, translated.
    """
    device = Consent.device_id.is_(None) if device_id is None else Consent.device_id == device_id
    rows = await s.execute(
        select(Consent.id).where(
            Consent.audit_id == audit_id,
            Consent.actor == actor,
            Consent.notice_sha256.in_(notice_sha256s),
            device,
        )
    )
    return rows.first() is not None


async def consents(s: AsyncSession, audit_id: str) -> list[Consent]:
    rows = await s.execute(select(Consent).where(Consent.audit_id == audit_id).order_by(Consent.accepted_at))
    return list(rows.scalars())


async def add_tech_check(s: AsyncSession, **fields: Any) -> TechCheck:
    row = TechCheck(**fields)
    s.add(row)
    await s.commit()
    return row


async def tech_checks(s: AsyncSession, audit_id: str) -> list[TechCheck]:
    rows = await s.execute(
        select(TechCheck).where(TechCheck.audit_id == audit_id).order_by(TechCheck.created_at.desc())
    )
    return list(rows.scalars())


async def add_annotation(s: AsyncSession, **fields: Any) -> Annotation:
    row = Annotation(**fields)
    s.add(row)
    await s.commit()
    return row


async def list_annotations(s: AsyncSession, evidence_id: str) -> list[Annotation]:
    rows = await s.execute(
        select(Annotation).where(Annotation.evidence_id == evidence_id).order_by(Annotation.created_at)
    )
    return list(rows.scalars())


async def audit_annotations(s: AsyncSession, audit_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every shape drawn on the audit's evidence, by evidence id, oldest annotation first."""
    rows = await s.execute(
        select(Annotation).where(Annotation.audit_id == audit_id).order_by(Annotation.created_at)
    )
    shapes: dict[str, list[dict[str, Any]]] = {}
    for note in rows.scalars():
        shapes.setdefault(note.evidence_id, []).extend(note.shapes)
    return shapes


def mark_completed(audit: Audit, outcome: dict[str, Any]) -> None:
    """Set the completion fields; committed with the completion's ledger entry."""
    audit.status = "completed"
    audit.completed_at = dt.datetime.now(dt.UTC)
    audit.outcome = outcome
    audit.current_checkpoint = None
