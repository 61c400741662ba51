"""Hostile uploads against a live server: refused quickly, cheaply, clearly, and the evidence untouched."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

from tests.hostile_inputs import heif, picture, png_bomb, problem_package, zip_bomb
from tests.support import LiveServer, live_server, new_audit, new_invite

MB = 1 << 20


def peak_rss_reset() -> None:
    """Start measuring the peak resident memory from now (Linux: 5 resets VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


async def staff_audit(server: LiveServer, token: str) -> tuple[str, httpx.AsyncClient]:
    async with server.client(token) as http:
        audit_id = await new_audit(http)
        invite = await new_invite(http, audit_id)
    auth = {"Authorization": f"Invite {invite['token']}"}
    return audit_id, httpx.AsyncClient(base_url=server.base_url, headers=auth, timeout=30)


async def evidence_hashes(server: LiveServer, token: str, audit_id: str) -> dict[str, str]:
    """id -> SHA-256 of each photo, as listed and as served."""
    served = {}
    async with server.client(token) as http:
        items = (await http.get(f"/api/audits/{audit_id}/evidence?kind=photo")).json()["items"]
        for item in items:
            body = (await http.get(item["image_url"])).content
            assert hashlib.sha256(body).hexdigest() == item["sha256"]
            served[item["id"]] = item["sha256"]
    return served


async def test_a_png_bomb_is_refused_within_a_second_and_100_mb(server: LiveServer, api_token: str) -> None:
    bomb = png_bomb(30000, 30000)
    assert len(bomb) < 200_000
    audit_id, staff = await staff_audit(server, api_token)
    async with staff:
        r = await staff.post(
            f"/api/audits/{audit_id}/photos", files={"file": ("ok.jpg", picture(), "image/jpeg")}
        )
        assert r.status_code == 201, r.text
        before = await evidence_hashes(server, api_token, audit_id)
        peak_rss_reset()
        rss = status_kib("VmRSS")
        start = time.perf_counter()
        r = await staff.post(f"/api/audits/{audit_id}/photos", files={"file": ("b.png", bomb, "image/png")})
        elapsed = time.perf_counter() - start
        grown_mb = (status_kib("VmHWM") - rss) / 1024
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "too_many_pixels"
    assert "30000×30000" in r.json()["error"]["message"]
    assert elapsed < 1.0
    assert grown_mb < 100
    assert await evidence_hashes(server, api_token, audit_id) == before


async def test_formats_outside_the_four_are_refused_by_name(server: LiveServer, api_token: str) -> None:
    audit_id, staff = await staff_audit(server, api_token)
    tiff = bytes(cv2.imencode(".tiff", np.zeros((8, 8, 3), np.uint8))[1])
    async with staff:
        for name, data, named in [("a.bmp", picture(ext=".bmp"), "BMP"), ("a.tif", tiff, "TIFF")]:
            r = await staff.post(f"/api/audits/{audit_id}/photos", files={"file": (name, data, "image/x")})
            assert r.status_code == 415, r.text
            assert r.json()["error"]["code"] == "unsupported_image"
            assert named in r.json()["error"]["message"]
        r = await staff.post(
            f"/api/audits/{audit_id}/photos", files={"file": ("c.png", picture(ext=".png")[:40], "image/png")}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (422, "damaged_image")


async def test_heic_is_kept_as_sent_with_its_declared_size(server: LiveServer, api_token: str) -> None:
    audit_id, staff = await staff_audit(server, api_token)
    data = heif(4032, 3024)
    async with staff:
        r = await staff.post(f"/api/audits/{audit_id}/photos", files={"file": ("p.heic", data, "image/heic")})
        assert r.status_code == 201, r.text
        item = r.json()
        assert (item["width"], item["height"]) == (4032, 3024)
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        too_big = heif(20000, 15000)
        r = await staff.post(
            f"/api/audits/{audit_id}/photos", files={"file": ("p.heic", too_big, "image/heic")}
        )
        assert (r.status_code, r.json()["error"]["code"]) == (413, "too_many_pixels")
    async with server.client(api_token) as http:
        served = await http.get(item["image_url"])
    assert served.content == data and served.headers["content-type"] == "image/heic"


async def test_photos_are_rate_limited_per_invite(tmp_path: Path) -> None:
    async with live_server(tmp_path / "data", photo_burst=2, photo_interval=60.0) as server:
        token = await server.create_user()
        audit_id, staff = await staff_audit(server, token)
        other_id, other = await staff_audit(server, token)
        async with staff, other:
            url = f"/api/audits/{audit_id}/photos"
            codes = [(await staff.post(url, files={"file": ("a.jpg", picture(), "image/jpeg")})).status_code]
            codes.append((await staff.post(url, files={"file": ("a.bmp", b"BM", "image/bmp")})).status_code)
            r = await staff.post(url, files={"file": ("a.jpg", picture(), "image/jpeg")})
            assert codes == [201, 415]  # refused uploads spend the allowance too
            assert (r.status_code, r.json()["error"]["code"]) == (429, "rate_limited")
            assert 50 <= int(r.headers["retry-after"]) <= 60
            other_url = f"/api/audits/{other_id}/photos"  # another invite has its own allowance
            r = await other.post(other_url, files={"file": ("a.jpg", picture(), "image/jpeg")})
            assert r.status_code == 201


async def test_a_zip_bomb_gets_a_short_answer_quickly(
    server: LiveServer, api_token: str, tmp_path: Path
) -> None:
    # Built off the event loop the test server shares (half a GiB of zeros to compress).
    name = "recording/segment-000001.index.jsonl"
    bomb = await asyncio.to_thread(zip_bomb, tmp_path / "bomb.zip", 256 * MB, name)
    ledger_bomb = await asyncio.to_thread(zip_bomb, tmp_path / "ledger.zip", 256 * MB)
    async with server.client(api_token) as http:
        for path in (bomb, ledger_bomb):
            start = time.perf_counter()
            r = await http.post("/api/verify?name=evil.zip", content=path.read_bytes())
            assert time.perf_counter() - start < 2.0
            assert r.status_code == 200 and len(r.content) < MB
            report = r.json()
            assert not report["ok"]
            assert any(
                "not inflated" in p or "not read" in p or "not in the ledger" in p for p in report["problems"]
            ), report
            assert report["summary"].get("bytes", 0) < MB  # what was hashed


async def test_a_package_of_problems_reports_the_first_hundred(
    server: LiveServer, api_token: str, tmp_path: Path
) -> None:
    package = problem_package(tmp_path / "p.zip", lines=50_000)
    async with server.client(api_token) as http:
        start = time.perf_counter()
        r = await http.post("/api/verify", content=package.read_bytes())
        elapsed = time.perf_counter() - start
    report = r.json()
    assert len(r.content) < MB and elapsed < 5.0
    assert len(report["problems"]) == 100
    assert report["problems_omitted"] >= 1000 - 100  # checking line by line stops after 1000


async def test_verify_errors_name_the_upload_not_the_server_path(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        named = (await http.post("/api/verify?name=C:\\Users\\lin\\audit.zip", content=b"not a zip")).json()
        anonymous = (await http.post("/api/verify", content=b"not a zip")).json()
    assert named["problems"] == ["audit.zip: not a readable zip file (File is not a zip file)"]
    assert anonymous["problems"][0].startswith("uploaded package: ")
    assert "verify-" not in str(named) + str(anonymous)
