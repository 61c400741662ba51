"""Data access for evidence items and recording segments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.container import SegmentInfo
from recorder.ledger import utc_ms
from server.db.ledger_repo import commit_with_entry
from server.db.models import Evidence, Segment


class _Replayed(Exception):
    def __init__(self, row: Evidence) -> None:
        self.row = row


async def add_evidence(s: AsyncSession, *, audit_id: str, **fields: Any) -> Evidence:
    """Insert an evidence row with the audit's next sequence number and its ledger entry
    (committed together before it returns).

    When ``idempotency_key`` is given and an item of the audit already has it, nothing is
    added and that item is returned (compare its ``blob`` to know).
    """
    row = Evidence(audit_id=audit_id, seq=0, **fields)

    async def number() -> None:
        if row.idempotency_key is not None:
            existing = await by_idempotency_key(s, audit_id, row.idempotency_key)
            if existing is not None:
                raise _Replayed(existing)
        current = await s.scalar(select(func.max(Evidence.seq)).where(Evidence.audit_id == audit_id))
        row.seq = (current or 0) + 1

    try:
        await commit_with_entry(s, audit_id, [row], lambda: evidence_entry(row), before=number)
    except _Replayed as replayed:
        return replayed.row
    return row


async def by_idempotency_key(s: AsyncSession, audit_id: str, key: str) -> Evidence | None:
    """The audit's item stored under ``key`` (see :func:`idempotency_key`), if any."""
    rows = await s.execute(
        select(Evidence).where(Evidence.audit_id == audit_id, Evidence.idempotency_key == key)
    )
    return rows.scalar_one_or_none()


def idempotency_key(requester: str, key: str | None) -> str | None:
    """The stored form of a requester's key: two requesters never share one."""
    return None if key is None else f"{requester} {key}"


def package_path(row: Evidence) -> str:
    """Where an evidence file sits inside an export package."""
    suffix = PurePosixPath(row.blob).suffix or ".jpg"
    return f"evidence/{row.kind}s/{row.id}{suffix}"


def evidence_entry(row: Evidence) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": row.kind,
        "evidence_id": row.id,
        "sha256": row.sha256,
        "size": row.size,
        "width": row.width,
        "height": row.height,
        "captured_at": utc_ms(row.captured_at),
        "checkpoint": row.checkpoint,
        "path": package_path(row),
        "evidence_seq": row.seq,
        "arrival_ns": row.arrival_ns,
        "requested_by": row.requested_by,
        "location": row.location,
        "device_time": utc_ms(row.device_time) if row.device_time else None,
    } | camera_field(row)
    if row.device_sha256 is not None:  # a photo whose hash the phone sent and the server checked
        entry["device_sha256"] = row.device_sha256
    return entry


def camera_field(row: Evidence) -> dict[str, Any]:
    """``{"camera": n}`` for a still or capture (the facility camera it shows), or a photo whose
    phone said its camera number; else nothing."""
    return {"camera": row.camera} if row.kind in ("still", "capture", "photo") and row.camera else {}


def segment_paths(seq: int, blob: str) -> tuple[str, str]:
    name = PurePosixPath(blob).name
    stem = name.rsplit(".", 1)[0]
    return f"recording/{name}", f"recording/{stem}.index.jsonl"


async def list_evidence(
    s: AsyncSession,
    audit_id: str,
    *,
    kind: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[Evidence]:
    query = select(Evidence).where(Evidence.audit_id == audit_id, Evidence.seq > after_seq)
    if kind is not None:
        query = query.where(Evidence.kind == kind)
    if since is not None:
        query = query.where(Evidence.captured_at >= since)
    if until is not None:
        query = query.where(Evidence.captured_at < until)
    rows = await s.execute(query.order_by(Evidence.seq).limit(limit))
    return list(rows.scalars())


async def get_evidence(s: AsyncSession, evidence_id: str) -> Evidence | None:
    return await s.get(Evidence, evidence_id)


def segment_fields(audit_id: str, info: SegmentInfo, root: Path, camera: int = 1) -> dict[str, Any]:
    """The row fields of a segment of ``camera``'s stream written under the store's ``root``."""
    return {
        "audit_id": audit_id,
        "camera": camera,
        "seq": info.seq,
        "codec": info.codec,
        "start_ns": info.start_ns,
        "end_ns": info.end_ns,
        "video_frames": info.video_frames,
        "audio_frames": info.audio_frames,
        "size": info.size,
        "sha256": info.sha256,
        "index_sha256": info.index_sha256,
        "blob": info.path.relative_to(root).as_posix(),
        "index_blob": info.index_path.relative_to(root).as_posix(),
    }


async def add_segment(s: AsyncSession, **fields: Any) -> Segment:
    """Insert a segment row and its ledger entry (a recovered one's says what was lost)."""
    row = Segment(**fields)

    def entry() -> dict[str, Any]:
        path, index_path = segment_paths(row.seq, row.blob)
        return segment_entry(row, path, index_path)

    await commit_with_entry(s, row.audit_id, [row], entry)
    return row


def segment_entry(row: Segment, path: str, index_path: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": "segment",
        "seq_no": row.seq,
        "sha256": row.sha256,
        "size": row.size,
        "index_sha256": row.index_sha256,
        "index_path": index_path,
        "path": path,
        "start_ns": row.start_ns,
        "end_ns": row.end_ns,
        "video_frames": row.video_frames,
        "audio_frames": row.audio_frames,
        "codec": row.codec,
        "camera": row.camera or 1,
    }
    if row.recovered_at is not None:
        entry["recovered"] = recovered_json(row)
    return entry


def recovered_json(row: Segment) -> dict[str, Any] | None:
    """What recovery after an unclean stop kept and lost of a segment; None if closed cleanly."""
    if row.recovered_at is None:
        return None
    return {
        "recovered_at": utc_ms(row.recovered_at),
        "stopped_ns": row.stopped_ns,
        "stopped_at": utc_ms(dt.datetime.fromtimestamp((row.stopped_ns or 0) / 1e9, dt.UTC)),
        "video_frames_kept": row.video_frames,
        "audio_frames_kept": row.audio_frames,
        "video_frames_lost": row.lost_video_frames,
        "audio_frames_lost": row.lost_audio_frames,
    }


async def list_segments(s: AsyncSession, audit_id: str) -> list[Segment]:
    rows = await s.execute(select(Segment).where(Segment.audit_id == audit_id).order_by(Segment.seq))
    return list(rows.scalars())


async def get_segment(s: AsyncSession, audit_id: str, seq: int) -> Segment | None:
    rows = await s.execute(select(Segment).where(Segment.audit_id == audit_id, Segment.seq == seq))
    return rows.scalar_one_or_none()


async def by_sha256(s: AsyncSession, sha256: str) -> list[Evidence]:
    rows = await s.execute(select(Evidence).where(Evidence.sha256 == sha256).order_by(Evidence.captured_at))
    return list(rows.scalars())
