"""After an unclean stop: recover open segments, set crash leftovers aside, sign what changed.

At start-up, before the server accepts a request, every recording segment on disk without a
row is recovered (:func:`recorder.recovery.recover_segment`): its intact prefix gets a row
and a ledger entry marked ``recovered``, and each audit that gained one gets a freshly signed
tree head. Files that are no evidence (a picture whose row was never committed, a corrective-action
photo or video whose response was never committed, temporary files of interrupted writes,
an index without its segment) are moved to the quarantine
folder under the data directory with a log line: never deleted, never listed as evidence.
A room that opens recovers its audit's leftovers the same way, in the background.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlalchemy import select

from recorder import FileStore
from recorder.container import FORMATS, fsync_path
from recorder.recovery import (
    NothingToRecover,
    RecoveredSegment,
    free_name,
    index_path_of,
    recover_segment,
    segment_files,
    segment_seq,
)
from server.db import evidence_repo
from server.db.engine import Database
from server.db.models import Audit, CorrectiveActionEntry
from server.ledger_service import LedgerSigner

log = logging.getLogger(__name__)

TEMPORARY = (".tmp", ".part")
PICTURE_DIRS = ("stills", "photos")
CAPA_DIR = "corrective-actions"  # a facility's response photos and videos (server/capa.py)
INDEX_SUFFIX = ".index.jsonl"


@dataclass
class RecoveryReport:
    """What start-up recovery did."""

    segments: list[tuple[str, int]] = field(default_factory=list)  # (audit id, seq)
    quarantined: list[str] = field(default_factory=list)  # paths relative to where they were


async def recover_at_start(
    db: Database, store: FileStore, signer: LedgerSigner, quarantine: Path, scratch: Path
) -> RecoveryReport:
    """Recover every audit's unclosed segments, sweep its leftovers, sign the grown ledgers.

    ``scratch`` holds temporary files (exports being written): whatever is left there is
    set aside too.
    """
    report = RecoveryReport()
    report.quarantined += await asyncio.to_thread(_sweep_scratch, scratch, quarantine)
    on_disk = await asyncio.to_thread(_audit_dirs, store.root)
    known = await _known_audits(db, on_disk) if on_disk else set()
    for audit_id in on_disk:
        if audit_id not in known:
            log.warning("evidence folder %s belongs to no audit in the database; left as it is", audit_id)
            continue
        for camera, directory in await asyncio.to_thread(camera_dirs, store.root / audit_id / "recording"):
            candidates = await asyncio.to_thread(segment_files, directory)
            for seq in await recover_segments(db, store, audit_id, candidates, quarantine, camera):
                report.segments.append((audit_id, seq))
        report.quarantined += await sweep(db, store, audit_id, quarantine)
    for audit_id in sorted({audit_id for audit_id, _ in report.segments}):
        await signer.sign(audit_id)
    return report


def camera_dir(recording: Path, camera: int) -> Path:
    """Where camera ``camera``'s segment stream is written: camera 1 in ``recording`` itself."""
    return recording if camera == 1 else recording / f"camera-{camera}"


def camera_dirs(recording: Path) -> list[tuple[int, Path]]:
    """Every camera's segment directory under an audit's ``recording`` folder, camera 1 first."""
    found = [(1, recording)]
    if recording.is_dir():
        for path in sorted(recording.iterdir()):
            if path.is_dir() and is_camera_dir_name(path.name):
                found.append((int(path.name.removeprefix("camera-")), path))
    return found


def is_camera_dir_name(name: str) -> bool:
    """Whether ``name`` is the folder of a camera's segment stream after the first (``camera-2``)."""
    number = name.removeprefix("camera-")
    return name.startswith("camera-") and number.isdigit() and int(number) > 1


async def _known_audits(db: Database, ids: list[str]) -> set[str]:
    async with db.session() as s:
        rows = await s.execute(select(Audit.id).where(Audit.id.in_(ids)))
        return set(rows.scalars())


def _sweep_scratch(scratch: Path, quarantine: Path) -> list[str]:
    if not scratch.is_dir():
        return []
    moved = []
    for path in sorted(p for p in scratch.iterdir() if p.is_file()):
        _move_aside(scratch.parent, path, quarantine, "temporary file of an interrupted write")
        moved.append(path.relative_to(scratch.parent).as_posix())
    return moved


def _audit_dirs(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir())


async def recover_segments(
    db: Database,
    store: FileStore,
    audit_id: str,
    candidates: Iterable[Path],
    quarantine: Path,
    camera: int = 1,
) -> list[int]:
    """Recover those of ``candidates`` (an audit's segment files) that have no row; their seqs."""
    async with db.session() as s:
        taken = {row.seq for row in await evidence_repo.list_segments(s, audit_id)}
    recovered = []
    for path in candidates:
        seq = segment_seq(path)
        if seq in taken:
            continue
        aside = quarantine / path.parent.relative_to(store.root)
        try:
            result = await asyncio.to_thread(recover_segment, path, aside)
        except NothingToRecover as exc:
            log.warning("audit %s: segment %d cannot be recovered: %s", audit_id, seq, exc)
            for leftover in (path, index_path_of(path)):
                await asyncio.to_thread(_move_aside, store.root, leftover, quarantine, "nothing recoverable")
            continue
        except Exception:
            log.exception("audit %s: recovering segment %d failed; left as it is", audit_id, seq)
            continue
        await _persist(db, store, audit_id, result, camera)
        recovered.append(seq)
    return recovered


async def _persist(
    db: Database, store: FileStore, audit_id: str, result: RecoveredSegment, camera: int = 1
) -> None:
    info = result.info
    async with db.session() as s:
        await evidence_repo.add_segment(
            s,
            **evidence_repo.segment_fields(audit_id, info, store.root, camera),
            recovered_at=dt.datetime.now(dt.UTC),
            stopped_ns=result.stopped_ns,
            lost_video_frames=result.lost_video_frames,
            lost_audio_frames=result.lost_audio_frames,
        )
    log.warning(
        "audit %s: segment %d recovered after an unclean stop: %d video frames kept, %d lost "
        "(%.2f s before the stop)",
        audit_id,
        info.seq,
        info.video_frames,
        result.lost_video_frames,
        (result.stopped_ns - info.end_ns) / 1e9,
    )


async def sweep(db: Database, store: FileStore, audit_id: str, quarantine: Path) -> list[str]:
    """Move an audit's files that are no evidence to quarantine; their paths."""
    async with db.session() as s:
        pictures = {e.blob for e in await evidence_repo.list_evidence(s, audit_id, limit=10**9)}
        segments = await evidence_repo.list_segments(s, audit_id)
        answers = await s.execute(
            select(CorrectiveActionEntry.blob, CorrectiveActionEntry.video_blob).where(
                CorrectiveActionEntry.audit_id == audit_id
            )
        )
        responses = {blob for pair in answers for blob in pair if blob}
    recording = {g.blob for g in segments} | {g.index_blob for g in segments}
    return await asyncio.to_thread(_sweep, store.root, audit_id, pictures | responses, recording, quarantine)


def _sweep(root: Path, audit_id: str, pictures: set[str], recording: set[str], quarantine: Path) -> list[str]:
    moved = []
    for path in sorted((root / audit_id).rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        reason = _leftover(path, rel, pictures, recording)
        if reason is not None:
            _move_aside(root, path, quarantine, reason)
            moved.append(rel)
    return moved


def _leftover(path: Path, rel: str, pictures: set[str], recording: set[str]) -> str | None:
    """Why ``path`` is no evidence, or None when it is (or may be) evidence."""
    if path.name.endswith(TEMPORARY):
        return "temporary file of an interrupted write"
    parts = PurePosixPath(rel).parts  # audit id, folder, name; or audit id, recording, camera-n, name
    folder = parts[1] if len(parts) == 3 else None
    if len(parts) == 4 and parts[1] == "recording" and is_camera_dir_name(parts[2]):
        folder = "recording"  # camera n's segment stream: the same rules as camera 1's
    if folder in PICTURE_DIRS and rel not in pictures:
        return "picture without an evidence row"
    if folder == CAPA_DIR and rel not in pictures:
        return "corrective-action upload without a committed response"
    if folder == "recording" and path.name.endswith(INDEX_SUFFIX) and rel not in recording:
        stem = path.name.removesuffix(INDEX_SUFFIX)
        if not any(path.with_name(stem + suffix).exists() for _, suffix in FORMATS.values()):
            return "segment index without its segment"
    return None


def _move_aside(root: Path, path: Path, quarantine: Path, reason: str) -> None:
    if not path.exists():
        return
    target = free_name(quarantine / path.relative_to(root))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    fsync_path(target.parent)
    fsync_path(path.parent)
    log.warning("moved %s to quarantine (%s): %s", path.relative_to(root).as_posix(), reason, target)
