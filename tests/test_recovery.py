"""Start-up after an unclean stop: open segments recovered, leftovers set aside, heads signed."""

from __future__ import annotations

import shutil
from pathlib import Path

import av

from recorder.bitstream import parameter_sets
from recorder.container import SegmentFile, VideoParams
from recorder.timeline import Timeline
from tests.support import LiveServer, live_server, new_audit, new_invite
from tests.test_recorder_segments import audio_frames, by_arrival, h264_clip, opus_packets, video_frames
from tests.test_walkthrough_api import jpeg


def open_h264_segment(directory: Path, seq: int, video: int) -> int:
    """Leave in ``directory`` an H.264 segment as a kill leaves it after ``video`` frames; its frames."""
    clip = h264_clip(90)
    t0 = 10**18
    frames = by_arrival(video_frames(clip, t0=t0), audio_frames(opus_packets(150), rtp0=0, t0=t0))
    live = directory.parent / "live"
    live.mkdir()
    timeline, segment, origin, written = Timeline(), None, 0, 0
    for frame in frames:
        ticks = timeline.place(frame)
        if segment is None:
            sps, pps = parameter_sets(frame.data) or (b"", b"")
            segment, origin = SegmentFile(live, seq, VideoParams("H264", sps=sps, pps=pps), frame), ticks
        pts = ticks - origin if frame.kind == "video" else ticks - origin * 48_000 // 90_000
        segment.write(frame, pts)
        written += frame.kind == "video"
        if written == video:
            break
    assert segment is not None
    directory.mkdir(parents=True, exist_ok=True)
    for path in live.iterdir():  # what is on disk now is what a SIGKILL leaves
        shutil.copyfile(path, directory / path.name)
    segment.abort()
    shutil.rmtree(live)
    return written


async def test_startup_recovers_open_segments_and_sets_leftovers_aside(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with live_server(data) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            aid = await new_audit(http)
            invite = await new_invite(http, aid)
            auth = {"Authorization": f"Invite {invite['token']}"}
            photo = await http.post(
                f"/api/audits/{aid}/photos", files={"file": ("a.jpg", jpeg())}, headers=auth
            )
            assert photo.status_code == 201
    audit_dir = data / "evidence" / aid
    recording = audit_dir / "recording"
    listed = open_h264_segment(recording, 1, 75)
    (recording / "segment-000002.webm").write_bytes(b"\x1a\x45\xdf\xa3")  # killed at its first bytes
    (recording / "segment-000002.index.jsonl").write_bytes(b'{"n":0,"kind":"vid')
    (recording / "segment-000003.index.jsonl").write_bytes(b"")
    leftovers = [
        "evidence/" + aid + "/stills/0f1e.jpg",
        "evidence/" + aid + "/photos/.1b2c.jpg.x7.tmp",
        "tmp/export-5d.zip",
        "evidence/" + aid + "/recording/segment-000002.webm",
        "evidence/" + aid + "/recording/segment-000002.index.jsonl",
        "evidence/" + aid + "/recording/segment-000003.index.jsonl",
    ]
    for name in leftovers[:3]:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(b"left over")

    async with live_server(data) as server, server.client(token) as http:
        for name in leftovers:
            assert not (data / name).exists()
            assert (data / "quarantine" / name.removeprefix("evidence/")).exists(), name
        assert (data / "quarantine" / aid / "recording" / "segment-000001.mkv").exists()  # as left
        [seg] = (await http.get(f"/api/audits/{aid}/recording")).json()["segments"]
        assert seg["seq"] == 1 and seg["codec"] == "H264"
        assert listed - 30 <= seg["video_frames"] <= listed
        assert seg["recovered"]["video_frames_lost"] == listed - seg["video_frames"]
        with av.open(str(recording / "segment-000001.mkv")) as container:
            assert sum(1 for _ in container.decode(video=0)) == seg["video_frames"]
        evidence = (await http.get(f"/api/audits/{aid}/evidence")).json()["items"]
        assert [e["id"] for e in evidence] == [photo.json()["id"]]
        assert (await http.get(evidence[0]["image_url"])).status_code == 200
        ledger = (await http.get(f"/api/audits/{aid}/ledger")).json()
        assert any(e.get("seq_no") == 1 and e["sha256"] == seg["sha256"] for e in ledger["entries"])
        assert ledger["tree_heads"][-1]["size"] == len(ledger["entries"])


async def test_a_retried_photo_upload_gets_the_first_item(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        aid = await new_audit(http)
        invite = await new_invite(http, aid)
        headers = {"Authorization": f"Invite {invite['token']}", "Idempotency-Key": "photo-1"}
        url = f"/api/audits/{aid}/photos"
        first = await http.post(url, files={"file": ("a.jpg", jpeg())}, headers=headers)
        again = await http.post(url, files={"file": ("a.jpg", jpeg())}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        photos = (await http.get(f"/api/audits/{aid}/evidence", params={"kind": "photo"})).json()["items"]
        assert [p["id"] for p in photos] == [first.json()["id"]]


async def test_a_second_cameras_leftovers_are_treated_like_the_firsts(tmp_path: Path) -> None:
    """A kill mid-segment in camera 2's folder: its prefix recovered as camera 2's, the rest set aside."""
    data = tmp_path / "data"
    async with live_server(data) as server:
        token = await server.create_user()
        async with server.client(token) as http:
            aid = await new_audit(http)
    camera2 = data / "evidence" / aid / "recording" / "camera-2"
    camera2.mkdir(parents=True)
    listed = open_h264_segment(camera2, 4, 60)
    (camera2 / "segment-000005.webm").write_bytes(b"\x1a\x45\xdf\xa3")  # killed at its first bytes
    (camera2 / "segment-000005.index.jsonl").write_bytes(b'{"n":0,"kind":"vid')
    (camera2 / "segment-000006.index.jsonl").write_bytes(b"")  # an index without its segment
    (camera2 / ".segment-000007.webm.x1.part").write_bytes(b"partial")
    leftovers = [f"{aid}/recording/camera-2/{name}" for name in (
        "segment-000005.webm",
        "segment-000005.index.jsonl",
        "segment-000006.index.jsonl",
        ".segment-000007.webm.x1.part",
    )]

    async with live_server(data) as server, server.client(token) as http:
        for name in leftovers:
            assert not (data / "evidence" / name).exists(), f"{name} left in camera 2's folder"
            assert (data / "quarantine" / name).exists(), f"{name} not in quarantine"
        assert (data / "quarantine" / aid / "recording" / "camera-2" / "segment-000004.mkv").exists()
        [seg] = (await http.get(f"/api/audits/{aid}/recording")).json()["segments"]
        assert (seg["seq"], seg["camera"], seg["codec"]) == (4, 2, "H264")
        assert listed - 30 <= seg["video_frames"] <= listed
        assert seg["recovered"]["video_frames_lost"] == listed - seg["video_frames"]
        with av.open(str(camera2 / "segment-000004.mkv")) as container:
            assert sum(1 for _ in container.decode(video=0)) == seg["video_frames"]
        assert (await http.get(seg["url"])).status_code == 200
        ledger = (await http.get(f"/api/audits/{aid}/ledger")).json()
        [entry] = [e for e in ledger["entries"] if e.get("seq_no") == 4]
        assert (entry["camera"], entry["sha256"]) == (2, seg["sha256"])
        assert ledger["tree_heads"][-1]["size"] == len(ledger["entries"])
