"""Replay manifest and per-item verification against a recorded audit."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from server.simcam import encode_clip
from tests.support import COMPLETE_ANYWAY, live_server, streaming_phone

pytestmark = pytest.mark.slow


async def test_replay_manifest_segments_and_verification(tmp_path: Path) -> None:
    clip = await asyncio.to_thread(encode_clip, 90, 640, 360)
    async with live_server(tmp_path / "data", segment_seconds=1.0, capture_window_ms=100) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            async with streaming_phone(server, http, clip, "R") as (aid, _phone):
                await http.put(f"/api/audits/{aid}/current", json={"key": "front-wall"})
                capture = (
                    await http.post(f"/api/audits/{aid}/captures", json={"checkpoint": "front-wall"})
                ).json()
                await http.put(f"/api/audits/{aid}/current", json={"key": "left-side"})
                await asyncio.sleep(3)
            await asyncio.sleep(0.5)

            manifest = (await http.get(f"/api/audits/{aid}/replay")).json()
            segments = manifest["segments"]
            assert len(segments) >= 2
            offsets = [s["offset"] for s in segments]
            assert offsets == sorted(offsets) and offsets[0] == 0
            assert manifest["duration"] >= segments[-1]["offset"] + segments[-1]["duration"] - 0.01
            assert [c["key"] for c in manifest["checkpoints"]] == ["front-wall", "left-side"]
            tick = next(e for e in manifest["evidence"] if e["id"] == capture["id"])
            assert 0 <= tick["offset"] <= manifest["duration"] + 1
            first = await http.get(segments[0]["url"])
            assert first.headers["content-type"] == "video/webm"
            assert hashlib.sha256(first.content).hexdigest() == segments[0]["sha256"]
            ranged = await http.get(segments[0]["url"], headers={"Range": "bytes=0-99"})
            assert ranged.status_code == 206 and len(ranged.content) == 100

            check = (await http.get(f"/api/evidence/{capture['id']}/verify")).json()
            assert check["verified"] is True, check
            found = (await http.get(f"/api/evidence/by-sha256/{capture['sha256']}")).json()
            assert [i["id"] for i in found["items"]] == [capture["id"]]
            assert found["items"][0]["audit"]["facility"] == "R"
            assert (await http.get(f"/api/evidence/by-sha256/{'0' * 64}")).json()["items"] == []

            # Tamper with the stored file: the item no longer verifies.
            path = server.settings.evidence_dir / aid / "stills"
            stored = next(
                p for p in path.iterdir() if hashlib.sha256(p.read_bytes()).hexdigest() == capture["sha256"]
            )
            data = bytearray(stored.read_bytes())
            data[50] ^= 0xFF
            stored.write_bytes(bytes(data))
            check = (await http.get(f"/api/evidence/{capture['id']}/verify")).json()
            assert check["verified"] is False and check["checks"]["file_matches_hash"] is False
            stored.write_bytes(bytes(data[:50]) + bytes([data[50] ^ 0xFF]) + bytes(data[51:]))

            await http.post(f"/api/audits/{aid}/complete", json=COMPLETE_ANYWAY)
            package = (await http.get(f"/api/audits/{aid}/export")).content
            report = (await http.post("/api/verify", content=package)).json()
            assert report["ok"] is True, report["problems"]
            broken = package[:-200]
            report = (await http.post("/api/verify", content=broken)).json()
            assert report["ok"] is False and report["problems"]
