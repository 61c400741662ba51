"""Complete an audit, export it twice, verify it offline with the CLI, and catch a tampered copy."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from server.simcam import encode_clip
from tests.support import COMPLETE_ANYWAY, live_server, streaming_phone

pytestmark = pytest.mark.slow


def verify(package: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", "verify", str(package), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_export_is_deterministic_and_verifies_offline(tmp_path: Path) -> None:
    clip = await asyncio.to_thread(encode_clip, 90, 640, 360)
    async with live_server(tmp_path / "data", segment_seconds=1.0, capture_window_ms=200) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            async with streaming_phone(server, http, clip, "E") as (aid, _phone):
                await http.put(f"/api/audits/{aid}/current", json={"key": "front-wall"})
                capture = await http.post(f"/api/audits/{aid}/captures", json={"checkpoint": "front-wall"})
                assert capture.status_code == 201
                assert (
                    await http.put(f"/api/audits/{aid}/checkpoints/front-wall", json={"result": "meets"})
                ).status_code == 200
                await asyncio.sleep(2.5)
            await asyncio.sleep(0.5)  # the room closes and its last segment is written
            outcome = (await http.post(f"/api/audits/{aid}/complete", json=COMPLETE_ANYWAY)).json()
            assert outcome["result"] == "fail"
            first = (await http.get(f"/api/audits/{aid}/export")).content
            second = (await http.get(f"/api/audits/{aid}/export")).content
            public_key = (await http.get("/api/ledger/public-key")).content
    assert first == second, "two exports of a completed audit differ"
    package = tmp_path / "audit.zip"
    package.write_bytes(first)
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
        assert "manifest.json" in names and "report.html" in names
        assert any(n.startswith("recording/segment-") and n.endswith(".webm") for n in names)
        assert any(n.startswith("evidence/stills/") for n in names)
        capture_path = next(n for n in names if n.startswith("evidence/captures/"))
        assert hashlib.sha256(zf.read(capture_path)).hexdigest() == capture.json()["sha256"]
        # The report is the one sealed at completion: the completion entry names its SHA-256.
        completion = json.loads(zf.read("ledger/entries.jsonl").splitlines()[-1])
        assert completion["kind"] == "complete"
        report = zf.read("report.html")
        assert hashlib.sha256(report).hexdigest() == completion["data"]["report_sha256"]
        assert completion["data"]["report_path"] == "report.html"
        assert b"Ada Auditor" in report  # the lead auditor, by name
    key_file = tmp_path / "server.pem"
    key_file.write_bytes(public_key)
    ok = verify(package, "--public-key", str(key_file))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout

    # One flipped byte in the captured picture is caught and named.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == capture_path:
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            dst.writestr(info, data)
    bad = verify(tampered, "--public-key", str(key_file))
    assert bad.returncode == 1
    assert capture_path in bad.stderr and "SHA-256" in bad.stderr


def test_cli_export_matches_the_http_export(tmp_path: Path) -> None:
    """`virtual-audit export` works on the data directory alone."""
    data = tmp_path / "data"
    run = [sys.executable, "-m", "server", "--data-dir", str(data)]
    subprocess.run(
        [*run, "user", "create", "--email", "x@y.org", "--name", "X"],
        input="long password\n",
        text=True,
        check=True,
        capture_output=True,
    )

    async def make() -> str:
        async with live_server(data) as server, server.client(await _token(data)) as http:
            r = await http.post("/api/audits", json={"facility": {"name": "C", "country": "IN"}})
            aid = str(r.json()["id"])
            await http.post(f"/api/audits/{aid}/complete", json=COMPLETE_ANYWAY)
            return aid

    aid = asyncio.run(make())
    out = tmp_path / "cli.zip"
    result = subprocess.run(
        [*run, "export", aid, "-o", str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    checked = verify(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    missing = subprocess.run(
        [*run, "export", "no-such-audit", "-o", str(tmp_path / "n.zip")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0 and "no audit" in missing.stderr


async def _token(data: Path) -> str:
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server", "--data-dir", str(data), "user", "token", "--email", "x@y.org"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]
