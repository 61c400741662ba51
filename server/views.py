"""JSON views of the domain's records, shared by the API, pages, export and replay."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.db.evidence_repo import recovered_json
from server.db.models import Audit, Evidence, Segment


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as every JSON timestamp of the API."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def audit_json(audit: Audit) -> dict[str, Any]:
    return {
        "id": audit.id,
        "title": audit.title,
        "facility": {
            "id": audit.facility_id,
            "name": audit.facility_name,
            "country": audit.facility_country,
            "address": audit.facility_address,
        },
        "status": audit.status,
        "created_at": iso(audit.created_at),
        "created_by": audit.created_by,
        "completed_at": iso(audit.completed_at),
        "template": _template_ref(audit),
        "current_checkpoint": audit.current_checkpoint,
        "outcome": audit.outcome,
        "certificate_id": audit.certificate_id,
    }


def _template_ref(audit: Audit) -> dict[str, Any] | None:
    snap = audit.template_snapshot
    if snap is None:
        return None
    return {"key": snap.get("key"), "version": snap.get("version"), "title": snap.get("title")}


def evidence_json(row: Evidence) -> dict[str, Any]:
    return {
        "id": row.id,
        "audit_id": row.audit_id,
        "kind": row.kind,
        "seq": row.seq,
        "captured_at": iso(row.captured_at),
        "arrival_ns": row.arrival_ns,
        "media_time": row.media_time,
        "rtp_timestamp": row.rtp_timestamp,
        "width": row.width,
        "height": row.height,
        "size": row.size,
        "sha256": row.sha256,
        "sharpness": round(row.sharpness, 2),
        "checkpoint": row.checkpoint,
        "requested_by": row.requested_by,
        # A photo's two times and its hash as the phone computed it (null for stills and captures).
        "device_time": iso(row.device_time),
        "device_sha256": row.device_sha256,
        # Which camera: a still's or capture's phone, a photo's as that phone said (null: not said).
        "camera": row.camera,
        "image_url": f"/api/evidence/{row.id}/image",
    }


def segment_json(row: Segment) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "codec": row.codec,
        "start": iso(dt.datetime.fromtimestamp(row.start_ns / 1e9, dt.UTC)),
        "end": iso(dt.datetime.fromtimestamp(row.end_ns / 1e9, dt.UTC)),
        "start_ns": row.start_ns,
        "end_ns": row.end_ns,
        "video_frames": row.video_frames,
        "audio_frames": row.audio_frames,
        "size": row.size,
        "sha256": row.sha256,
        "index_sha256": row.index_sha256,
        "url": f"/api/audits/{row.audit_id}/recording/{row.seq}",
        "index_url": f"/api/audits/{row.audit_id}/recording/{row.seq}/index",
        "recovered": recovered_json(row),
        "camera": row.camera,
    }
