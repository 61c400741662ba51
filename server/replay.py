"""Replay of the lossless recording: what the reviewer's player needs, without transcoding.

The browser plays the recording segment by segment through Media Source Extensions, each
at its offset from the start of the audit (server arrival time), so the first frame is on
screen after one segment's download whatever the audit's length. VP8 segments are already
WebM and are served as they are; H.264 segments (Matroska) are remuxed into fragmented MP4,
once, in a worker thread, and cached beside the recording.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import av

from recorder import FileStore
from server.db import evidence_repo, ledger_repo, repo, walkthrough_repo
from server.db.engine import Database
from server.db.models import Segment
from server.views import evidence_json

VP8_MIME = 'video/webm; codecs="vp8, opus"'
H264_MIME = 'video/mp4; codecs="avc1.42e01f, opus"'


def segment_mime(row: Segment) -> str:
    return VP8_MIME if row.codec.upper() == "VP8" else H264_MIME


async def replay_manifest(db: Database, audit_id: str) -> dict[str, Any]:
    """Segments with their offsets, checkpoint markers and evidence ticks, all in seconds from the start."""
    async with db.session() as s:
        segments = await evidence_repo.list_segments(s, audit_id)
        evidence = await evidence_repo.list_evidence(s, audit_id, limit=10**9)
        drawn = await walkthrough_repo.audit_annotations(s, audit_id)
        events = await repo.list_events(s, audit_id)
        entries = await ledger_repo.entries(s, audit_id)
        last = await ledger_repo.last_head(s, audit_id)
    start_ns = min((g.start_ns for g in segments), default=None)
    if start_ns is None:
        start_ns = min((e.arrival_ns for e in evidence), default=0)
    covered = last.size if last else 0
    ledger_seq = {}
    for entry in entries:
        body = json.loads(entry.body)
        if "evidence_id" in body:
            ledger_seq[body["evidence_id"]] = entry.seq

    def offset(ns: int) -> float:
        return round((ns - start_ns) / 1e9, 3)

    checkpoints = []
    for event in events:
        if event.kind == "checkpoint" and event.data.get("checkpoint"):
            checkpoints.append(
                {
                    "key": event.data["checkpoint"],
                    "at": event.at.isoformat(),
                    "offset": offset(int(event.at.timestamp() * 1e9)),
                }
            )
    return {
        "start_ns": start_ns,
        "duration": offset(max((g.end_ns for g in segments), default=start_ns)),
        "segments": [
            {
                "seq": g.seq,
                "codec": g.codec,
                "mime": segment_mime(g),
                "offset": offset(g.start_ns),
                "duration": round((g.end_ns - g.start_ns) / 1e9, 3),
                "url": f"/api/audits/{audit_id}/replay/segments/{g.seq}",
                "sha256": g.sha256,
                "recovered": evidence_repo.recovered_json(g),
                "camera": g.camera,
            }
            for g in segments
        ],
        "checkpoints": checkpoints,
        "evidence": [
            evidence_json(e)
            | {
                "offset": offset(e.arrival_ns),
                "ledger_seq": ledger_seq.get(e.id),
                "in_signed_head": ledger_seq.get(e.id, covered) < covered,
                "annotations": drawn.get(e.id, []),
            }
            for e in evidence
        ],
        "tree_head_size": covered,
    }


def remux_to_fmp4(source: Path, target: Path) -> None:
    """Copy the packets of a Matroska segment into fragmented MP4 (no decoding; blocking)."""
    tmp = target.with_suffix(".part")
    with (
        av.open(str(source)) as src,
        av.open(
            str(tmp), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}
        ) as dst,
    ):
        mapping = {}
        for stream in src.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = dst.add_stream_from_template(stream)
        for packet in src.demux(*[s for s in src.streams if s.index in mapping]):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            dst.mux(packet)
    tmp.replace(target)


async def playable_segment(store: FileStore, row: Segment) -> tuple[Path, str]:
    """The file to send for a segment and its media type."""
    path = store.path(row.blob)
    if path is None or not path.exists():
        raise FileNotFoundError(row.blob)
    if row.codec.upper() == "VP8":
        return path, "video/webm"
    target = path.with_suffix(".mp4")
    if not target.exists():
        await asyncio.to_thread(remux_to_fmp4, path, target)
    return target, "video/mp4"
