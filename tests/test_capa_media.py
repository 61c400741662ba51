"""Corrective actions through the facility's link: its photos read back, the original capture
for a re-take, short videos, overdue flags, and two decisions racing on one response."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from recorder.verify import verify_package
from server import capa, capa_video
from server.db import ledger_repo
from server.db.models import CorrectiveAction, CorrectiveActionEntry, new_id
from server.errors import ApiError
from server.middleware import redact
from tests.parties import Parties, jpeg, make_parties, share
from tests.support import LiveServer, live_server
from tests.test_capa import actions, audit_with_finding, capa_link, respond
from tests.test_facilities import facility_of


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(tmp_path / "data", certificate_long_score=0.5) as live:
        yield live


async def finding_with_capture(parties: Parties, facility: str) -> str:
    """A completed audit whose fence finding was recorded with a photo from the phone."""
    return await audit_with_finding(parties, facility, fence_photo=jpeg("old fence", 320, 240))


async def test_the_facility_sees_its_photos_and_the_original_through_its_link_only(
    server: LiveServer,
) -> None:
    parties = await make_parties(server)
    audit_id = await finding_with_capture(parties, "Plant Photo")
    other_id = await audit_with_finding(parties, "Plant Other")
    [action] = await actions(parties, audit_id)
    [other_action] = await actions(parties, other_id)
    link, other = await capa_link(parties, audit_id), await capa_link(parties, other_id)
    r = await respond(server, link["token"], action["id"], "New fence", jpeg("new fence"))
    assert r.status_code == 201, r.text
    entry = r.json()
    r = await respond(server, other["token"], other_action["id"], "Other", jpeg("other"))
    other_entry = r.json()

    base = f"/api/capa/{link['token']}/actions/{action['id']}"
    async with server.client() as http:
        page = await http.get(f"/capa/{link['token']}")
        assert page.status_code == 200
        photo_url = f"{base}/responses/{entry['id']}/photo"
        assert f'src="{photo_url}"' in page.text and 'data-testid="capa-photo"' in page.text
        assert "(photo attached)" not in page.text
        assert page.headers["referrer-policy"] == "no-referrer"  # the token stays on this page
        vi = await http.get(f"/capa/{link['token']}", headers={"Accept-Language": "vi-VN,vi;q=0.9"})
        assert '<html lang="vi">' in vi.text and "Hành động khắc phục" in vi.text
        assert "Chụp lại ảnh từ cùng góc" in vi.text and "tối đa 30 giây, 50 MB" in vi.text
        photo = await http.get(photo_url)
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        assert photo.headers["etag"] == f'"{entry["photo"]["sha256"]}"'
        original = await http.get(f"{base}/original")
        assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
        assert f'data-original="{base}/original"' in page.text
        # another audit's response, even under a real action id of that audit: not through this link
        for path in (
            f"/api/capa/{link['token']}/actions/{other_action['id']}/responses/{other_entry['id']}/photo",
            f"{base}/responses/{other_entry['id']}/photo",
            f"/api/capa/{other['token']}/actions/{other_action['id']}/original",  # no capture there
            f"/api/capa/not-a-token/actions/{action['id']}/responses/{entry['id']}/photo",
        ):
            assert (await http.get(path)).status_code == 404, path
    async with parties.client("lead") as http:
        log = (await http.get(f"/api/audits/{audit_id}/access-log")).json()["items"]
        assert (await http.delete(f"/api/audits/{audit_id}/capa-link")).status_code == 200
    facility_reads = [x for x in log if x["role"] == "facility"]
    assert {x["target"] for x in facility_reads} >= {f"corrective-action photo ({entry['id']})"}
    assert any(x["target"].startswith("original capture") for x in facility_reads)
    assert all(x["user"]["id"] == link["id"] for x in facility_reads)
    async with server.client() as http:  # revoked: the photo is gone with the link
        assert (await http.get(photo_url)).status_code == 404


def test_the_link_token_never_reaches_the_access_log() -> None:
    assert redact("/capa/s3cret") == "/capa/[redacted]"
    assert redact("/api/capa/s3cret/actions/a/original") == "/api/capa/[redacted]/actions/a/original"


def clip(seconds: float, codec: str = "libx264", container: str = "mp4", fps: int = 10) -> bytes:
    """A small real video: ``seconds`` long at ``fps`` frames a second."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as box:
        stream = box.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for n in range(round(seconds * fps)):
            image = np.full((48, 64, 3), (n * 7) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            box.mux(stream.encode(frame))
        box.mux(stream.encode(None))
    return out.getvalue()


async def respond_with_video(
    server: LiveServer, token: str, action_id: str, video: bytes, name: str = "answer.mp4"
) -> Any:
    async with server.client() as http:
        return await http.post(
            f"/api/capa/{token}/actions/{action_id}/responses",
            data={"text": "See the video"},
            files={"video": (name, video, "video/mp4")},
        )


async def test_a_short_video_answer_is_probed_kept_in_the_ledger_and_playable(
    server: LiveServer, tmp_path: Path
) -> None:
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties, "Plant Video")
    [action] = await actions(parties, audit_id)
    link = await capa_link(parties, audit_id)
    token = link["token"]

    refused = {
        "garbage": (b"\x00\x01 not a video at all" * 100, 422, "not_a_video"),
        "too long": (clip(31), 422, "video_too_long"),
        "old codec": (clip(1, "mpeg4"), 422, "unsupported_video"),
        "too large": (b"\x00" * (capa_video.MAX_BYTES + 1), 413, "too_large"),
    }
    for why, (data, status, code) in refused.items():
        r = await respond_with_video(server, token, action["id"], data)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (why, r.text)
        assert r.json()["error"]["message"], why
    async with server.client() as http:  # a good photo with a refused video: neither is kept
        r = await http.post(
            f"/api/capa/{token}/actions/{action['id']}/responses",
            data={"text": "Both"},
            files={"file": ("a.jpg", jpeg("a"), "image/jpeg"), "video": ("v.mp4", clip(31), "video/mp4")},
        )
    assert r.status_code == 422 and r.json()["error"]["code"] == "video_too_long", r.text
    assert (await actions(parties, audit_id))[0]["responses"] == []  # nothing half-kept
    folder = server.settings.data_dir / "evidence" / audit_id / "corrective-actions"
    assert not folder.exists() or not any(folder.iterdir())

    video = clip(2)
    webm = clip(1.5, "libvpx", "webm")
    r = await respond_with_video(server, token, action["id"], video)
    assert r.status_code == 201, r.text
    r = await respond_with_video(server, token, action["id"], webm, "answer.webm")
    assert r.status_code == 201, r.text
    [item] = await actions(parties, audit_id)
    first, second = item["responses"]
    assert first["video"]["sha256"] == hashlib.sha256(video).hexdigest()
    assert first["video"]["codec"] == "h264" and 1900 <= first["video"]["duration_ms"] <= 2100
    assert second["video"]["codec"] == "vp8" and second["video"]["type"] == "video/webm"

    async with parties.client("reviewer") as http:
        played = await http.get(first["video"]["url"])
        assert played.status_code == 200 and played.headers["content-type"] == "video/mp4"
        assert played.content == video
        report = await http.get(f"/audits/{audit_id}/report")
        assert f'src="{first["video"]["url"]}"' in report.text and 'data-testid="capa-video"' in report.text
        log = (await http.get(f"/api/audits/{audit_id}/access-log")).json()["items"]
    assert any(x["target"] == f"corrective-action video ({first['id']})" for x in log)
    async with server.client() as http:  # the facility plays its own video back
        page = await http.get(f"/capa/{token}")
        own = f"/api/capa/{token}/actions/{action['id']}/responses/{first['id']}/video"
        assert f'src="{own}"' in page.text
        assert (await http.get(own)).content == video

    async with parties.client("lead") as http:
        export = await http.get(f"/api/audits/{audit_id}/export")
    package = tmp_path / "audit.zip"
    package.write_bytes(export.content)
    verified = verify_package(package, server.app_ctx().signer.public_pem)
    assert verified.ok, verified.problems
    assert verified.summary["corrective_actions"] == (
        "2 response(s) (0 with a photo, 2 with a video), 0 decision(s), on 1 action(s)"
    )
    with zipfile.ZipFile(package) as zf:
        entries = [json.loads(x) for x in zf.read("ledger/entries.jsonl").splitlines()]
        [entry, _] = [e for e in entries if e["type"] == "corrective-action"]
        assert zf.read(entry["video_path"]) == video
        page = zf.read("corrective-actions.html").decode()  # the follow-up, readable in the package
    assert f'<video class="capa-video" controls preload="metadata" src="{entry["video_path"]}">' in page
    assert "See the video" in page and f"ledger entry {entry['seq']}" in page
    assert entry["video_sha256"] == first["video"]["sha256"] and entry["data"]["video"]["codec"] == "h264"

    # a video swapped inside the package: verify names it
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, webm if info.filename == entry["video_path"] else data)
    result = verify_package(tampered, server.app_ctx().signer.public_pem)
    assert not result.ok and any(entry["video_path"] in p for p in result.problems), result.problems


async def test_an_overdue_action_is_flagged_on_the_facility_page_and_the_portfolio(
    server: LiveServer,
) -> None:
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties, "Plant Late")
    [action] = await actions(parties, audit_id)
    async with server.app_ctx().db.session() as s:  # five days past its due date
        row = await s.get(CorrectiveAction, action["id"])
        assert row is not None
        row.due_date = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)
        await s.commit()
    facility = await facility_of(parties, audit_id)
    await share(parties, audit_id, "Importer One")
    async with parties.client("member1") as http:
        r = await http.post(f"/api/facilities/{facility['id']}/links")
        assert r.status_code in (200, 201), r.text
        page = (await http.get(f"/facilities/{facility['id']}")).text
        portfolio = (await http.get("/portfolio")).text
        rows = list(csv.DictReader(io.StringIO((await http.get("/portfolio.csv")).text)))
    flag = 'data-testid="overdue" data-days="5">1 overdue, by 5 days<'
    assert flag in page and flag in portfolio
    assert [(x["name"], x["open_actions"], x["days_overdue"]) for x in rows] == [("Plant Late", "1", "5")]
    async with parties.client("member2") as http:  # not shared with it: no findings, no flag
        assert 'data-testid="overdue"' not in (await http.get(f"/facilities/{facility['id']}")).text

    link = await capa_link(parties, audit_id)  # answered and accepted: closed, no flag
    assert (await respond(server, link["token"], action["id"], "Fixed", None)).status_code == 201
    async with parties.client("lead") as http:
        r = await http.post(
            f"/api/audits/{audit_id}/actions/{action['id']}/decision", json={"decision": "accept"}
        )
        assert r.status_code == 201, r.text
    async with parties.client("member1") as http:
        assert 'data-testid="overdue"' not in (await http.get(f"/facilities/{facility['id']}")).text
        assert 'data-testid="overdue"' not in (await http.get("/portfolio")).text


async def test_two_decisions_racing_on_one_response_apply_once(server: LiveServer) -> None:
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties, "Plant Race")
    [action] = await actions(parties, audit_id)
    link = await capa_link(parties, audit_id)
    app = server.app_ctx()
    for round_ in range(3):
        r = await respond(server, link["token"], action["id"], f"Fixed, try {round_}", None)
        assert r.status_code == 201, r.text
        async with parties.client("lead") as lead, parties.client("reviewer") as reviewer:
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"/api/audits/{audit_id}/actions/{action['id']}/decision",
                        json={"decision": "reject", "comment": f"not yet ({who})"},
                    )
                    for who, http in (("lead", lead), ("reviewer", reviewer))
                )
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201, 409], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.json()["error"]["code"] == "nothing_to_decide"
    [done] = await actions(parties, audit_id)
    assert len(done["responses"]) == 3 and len(done["decisions"]) == 3
    async with app.db.session() as s:
        kinds = [
            json.loads(e.body)["kind"]
            for e in await ledger_repo.entries(s, audit_id)
            if json.loads(e.body)["type"] == "corrective-action"
        ]
    assert kinds == ["response", "decision"] * 3

    # Past the first check (as when both requests read 'responded' at once), the conditional
    # update still lets one decision through only.
    assert (await respond(server, link["token"], action["id"], "Last try", None)).status_code == 201
    attempts = []
    for name in ("first", "second"):
        entry = CorrectiveActionEntry(
            id=new_id(), action_id=action["id"], audit_id=audit_id, kind="decision",
            text=name, decision="accept", actor="user:x", actor_name=name,
        )  # fmt: skip
        try:
            await capa._append(app, audit_id, action["id"], entry, "accepted", lambda _a: None)
            attempts.append("applied")
        except ApiError as exc:
            attempts.append(f"{exc.status} {exc.code}")
    assert attempts == ["applied", "409 conflict"]


async def test_uploads_never_committed_are_set_aside_at_start(tmp_path: Path) -> None:
    data = tmp_path / "sweep"
    async with live_server(data, certificate_long_score=0.5) as live:
        parties = await make_parties(live)
        audit_id = await audit_with_finding(parties, "Plant Sweep")
        [action] = await actions(parties, audit_id)
        link = await capa_link(parties, audit_id)
        r = await respond(live, link["token"], action["id"], "Fixed", jpeg("kept"))
        assert r.status_code == 201, r.text
        kept = f"{audit_id}/corrective-actions/{r.json()['id']}.jpg"
    folder = data / "evidence" / audit_id / "corrective-actions"
    assert (data / "evidence" / kept).exists()
    orphans = ["0badc0de.jpg", "0badc0de-video.mp4"]  # written, then the server stopped
    for name in orphans:
        (folder / name).write_bytes(b"never committed")
    async with live_server(data, certificate_long_score=0.5) as live:
        for name in orphans:
            assert not (folder / name).exists(), name
            assert (data / "quarantine" / audit_id / "corrective-actions" / name).exists(), name
        assert (data / "evidence" / kept).exists()
        async with live.client() as http:
            photo = await http.get(
                f"/api/capa/{link['token']}/actions/{action['id']}/responses/{r.json()['id']}/photo"
            )
        assert photo.status_code == 200


async def test_audit_pages_link_to_the_facility(server: LiveServer, tmp_path: Path) -> None:
    parties = await make_parties(server)
    audit_id = await audit_with_finding(parties, "Plant Linked")
    facility = await facility_of(parties, audit_id)
    link = f'<a href="/facilities/{facility["id"]}" data-testid="facility-page">'
    async with parties.client("lead") as http:
        for page in (f"/audits/{audit_id}", f"/audits/{audit_id}/report"):
            r = await http.get(page)
            assert r.status_code == 200 and link in r.text, page
        export = await http.get(f"/api/audits/{audit_id}/export")
    package = tmp_path / "linked.zip"
    package.write_bytes(export.content)
    with zipfile.ZipFile(package) as zf:  # the sealed report is read offline: no server link
        assert 'data-testid="facility-page"' not in zf.read("report.html").decode()
