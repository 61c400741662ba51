"""Segments: what is muxed is what was received, it decodes, and it is cut where reviewers need."""

from __future__ import annotations

import fractions
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from recorder import AUDIO_CLOCK, SegmentInfo, SegmentWriter, to_annexb
from server.media import framecode
from server.media.frames import is_keyframe
from server.simcam import EncodedClip, encode_clip, scene

FRAME_NS = 1_000_000_000 // 30
AUDIO_NS = 20_000_000


@dataclass(frozen=True)
class Frame:
    kind: str
    codec: str
    data: bytes
    rtp_timestamp: int
    arrival_ns: int
    keyframe: bool


def video_frames(
    clip: EncodedClip, *, first: int = 0, count: int | None = None, rtp0: int = 1000, t0: int = 10**18
) -> list[Frame]:
    """Clip frames ``first..`` (looping) as the hub delivers them: 30 fps RTP, arrivals 33 ms apart."""
    count = len(clip.frames) - first if count is None else count
    out = []
    for i in range(count):
        n = (first + i) % len(clip.frames)
        out.append(
            Frame(
                "video",
                clip.codec,
                clip.frames[n],
                (rtp0 + i * 3000) % 2**32,
                t0 + i * FRAME_NS,
                clip.keyframes[n],
            )
        )
    return out


def opus_packets(count: int) -> list[bytes]:
    """``count`` 20 ms Opus packets of a tone, from libopus."""
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = AUDIO_CLOCK, "stereo", "s16"
    encoder.time_base = fractions.Fraction(1, AUDIO_CLOCK)
    packets: list[bytes] = []
    for i in range(count):
        t = (i * 960 + np.arange(960)) / AUDIO_CLOCK
        wave = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(wave, 2)[None, :], format="s16", layout="stereo")
        frame.sample_rate, frame.pts = AUDIO_CLOCK, i * 960
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets


def audio_frames(packets: list[bytes], *, rtp0: int, t0: int, lag_ns: int = 5_000_000) -> list[Frame]:
    return [
        Frame("audio", "opus", data, (rtp0 + i * 960) % 2**32, t0 + lag_ns + i * AUDIO_NS, True)
        for i, data in enumerate(packets)
    ]


def by_arrival(*streams: list[Frame]) -> list[Frame]:
    return sorted((f for s in streams for f in s), key=lambda f: f.arrival_ns)


def long_start_codes(annexb: bytes) -> bytes:
    """An access unit with every start code 4 bytes long, as WebRTC depacketizers emit it."""
    return b"".join(b"\x00\x00\x00\x01" + unit for unit in re.split(rb"\x00\x00\x00?\x01", annexb)[1:])


def h264_clip(frames: int = 60, gop: int = 30, webrtc: bool = True) -> EncodedClip:
    """An H.264 (Annex-B, constrained baseline, SPS/PPS before every IDR) clip with frame codes.

    x264 puts 3-byte start codes before some NAL units; ``webrtc`` rewrites them as a WebRTC
    receiver would deliver them.
    """
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = 640, 360, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "profile": "baseline",
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
    }
    clip = EncodedClip("H264", 30, 640, 360)
    for n in range(frames):
        picture = av.VideoFrame.from_ndarray(scene(640, 360, n), format="bgr24").reformat(format="yuv420p")
        picture.pts = n
        clip.frames += [bytes(p) for p in encoder.encode(picture)]
    clip.frames += [bytes(p) for p in encoder.encode(None)]
    if webrtc:
        clip.frames = [long_start_codes(f) for f in clip.frames]
    return clip


def record(directory: Path, frames: list[Frame], **options: Any) -> tuple[SegmentWriter, list[SegmentInfo]]:
    closed: list[SegmentInfo] = []
    writer = SegmentWriter(directory, on_closed=closed.append, **options)
    writer.start()
    for frame in frames:
        writer.write(frame)
    writer.close()
    assert writer.errors == 0, writer.last_error
    return writer, closed


def index_lines(info: SegmentInfo) -> list[dict[str, Any]]:
    return [json.loads(line) for line in info.index_path.read_text().splitlines()]


def stored_packets(path: Path, kind: str) -> list[av.Packet[Any]]:
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == kind]
        return [p for p in container.demux(streams) if p.size]


def decoded_codes(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [
            framecode.read(np.asarray(f.to_ndarray(format="bgr24"), dtype=np.uint8))
            for f in container.decode(video=0)
        ]


def check_index_matches_file(info: SegmentInfo, received_exactly: bool = True) -> None:
    """The index matches the segment packet by packet, and both files match their digests."""
    check_packets_match_index(info.path, info.index_path, received_exactly)
    segment, index = info.path.read_bytes(), info.index_path.read_bytes()
    assert (hashlib.sha256(segment).hexdigest(), len(segment)) == (info.sha256, info.size)
    assert (hashlib.sha256(index).hexdigest(), len(index)) == (info.index_sha256, info.index_size)


def check_packets_match_index(path: Path, index_path: Path, received_exactly: bool = True) -> None:
    """Every index line is the digest of the packet stored for it, kind by kind, in order.

    H.264 is stored length-prefixed: its lines carry ``stored_sha256`` and, when the
    received access units used 4-byte start codes, ``to_annexb`` gives back the received bytes.
    """
    lines = [json.loads(line) for line in index_path.read_text().splitlines()]
    assert [line["n"] for line in lines] == list(range(len(lines)))
    for kind in ("video", "audio"):
        expected = [line for line in lines if line["kind"] == kind]
        packets = stored_packets(path, kind)
        assert len(packets) == len(expected)
        for packet, line in zip(packets, expected, strict=True):
            stored = bytes(packet)
            assert packet.is_keyframe == line["keyframe"] or kind == "audio"
            if "stored_sha256" not in line:
                assert hashlib.sha256(stored).hexdigest() == line["sha256"]
                assert len(stored) == line["size"]
                continue
            assert hashlib.sha256(stored).hexdigest() == line["stored_sha256"]
            if received_exactly:
                received = to_annexb(stored)
                assert hashlib.sha256(received).hexdigest() == line["sha256"]
                assert len(received) == line["size"]


@pytest.fixture(scope="module")
def clip() -> EncodedClip:
    return encode_clip(frames=90, width=640, height=360, gop=30)


@pytest.fixture(scope="module")
def opus() -> list[bytes]:
    return opus_packets(150)


def test_index_hashes_every_stored_packet(tmp_path: Path, clip: EncodedClip, opus: list[bytes]) -> None:
    t0 = 10**18
    frames = by_arrival(video_frames(clip, t0=t0), audio_frames(opus, rtp0=2**32 - 4000, t0=t0))
    writer, closed = record(tmp_path, frames, max_segment_seconds=60)

    [info] = closed
    check_index_matches_file(info)
    assert (info.video_frames, info.audio_frames) == (90, writer.written - 90)
    assert info.audio_frames >= len(opus) - 1  # at most the packet timed before the key frame
    assert (info.start_ns, info.end_ns) == (t0, max(f.arrival_ns for f in frames))


def test_segments_decode_to_every_written_frame_in_order(tmp_path: Path, clip: EncodedClip) -> None:
    _, closed = record(tmp_path, video_frames(clip, count=180), max_segment_seconds=2)

    codes = [code for info in closed for code in decoded_codes(info.path)]
    assert len(codes) == 180 == sum(info.video_frames for info in closed)
    assert codes == [n % 90 for n in range(180)]


def test_audio_decodes_and_plays_in_sync_with_video(
    tmp_path: Path, clip: EncodedClip, opus: list[bytes]
) -> None:
    t0 = 10**18
    # Unrelated RTP clocks; audio arrives 5 ms after the video captured at the same time.
    frames = by_arrival(video_frames(clip, rtp0=123_456, t0=t0), audio_frames(opus, rtp0=987_654_321, t0=t0))
    _, [info] = record(tmp_path, frames)

    with av.open(str(info.path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert samples == 960 * info.audio_frames
    lines = index_lines(info)
    for kind in ("video", "audio"):
        arrivals = [line["arrival_ns"] for line in lines if line["kind"] == kind]
        for packet, arrival_ns in zip(stored_packets(info.path, kind), arrivals, strict=True):
            # Packets play when they arrived relative to the first key frame (1 ms container ticks).
            assert packet.pts is not None and abs(packet.pts - (arrival_ns - t0) / 1e6) <= 1


@pytest.mark.parametrize(("max_seconds", "gops"), [(1.0, 1), (1.5, 2)])
def test_rotates_at_the_first_keyframe_after_max_seconds(
    tmp_path: Path, clip: EncodedClip, max_seconds: float, gops: int
) -> None:
    _, closed = record(tmp_path, video_frames(clip, first=5, count=175), max_segment_seconds=max_seconds)

    assert sum(info.video_frames for info in closed) == 150  # from the first key frame on
    assert [info.video_frames for info in closed[:-1]] == [30 * gops] * (len(closed) - 1)
    assert [info.seq for info in closed] == list(range(1, len(closed) + 1))
    for info in closed:
        lines = index_lines(info)
        assert lines[0]["keyframe"] and lines[0]["pts"] == 0
        assert stored_packets(info.path, "video")[0].is_keyframe
        assert decoded_codes(info.path)[0] % 30 == 0
        check_index_matches_file(info)
    for info in closed[:-1]:
        # Cut at the first key frame at or after max_seconds: the segment is shorter by one frame.
        assert index_lines(info)[-1]["pts"] == (30 * gops - 1) * 3000


def test_video_before_the_first_keyframe_is_skipped(tmp_path: Path, clip: EncodedClip) -> None:
    writer, [info] = record(tmp_path, video_frames(clip, first=20, count=40), max_segment_seconds=60)

    assert writer.skipped_before_keyframe == 10
    assert info.video_frames == 30
    assert decoded_codes(info.path) == list(range(30, 60))


def test_restart_starts_a_new_segment_at_the_next_keyframe(tmp_path: Path, clip: EncodedClip) -> None:
    closed: list[SegmentInfo] = []
    writer = SegmentWriter(tmp_path, on_closed=closed.append)
    writer.start()
    for frame in video_frames(clip, count=45):
        writer.write(frame)
    writer.restart()  # the phone rejoined: new RTP clock, resumes mid-GOP
    for frame in video_frames(clip, first=50, count=40, rtp0=77, t0=10**18 + 5 * 10**9):
        writer.write(frame)
    writer.close()

    assert [(info.seq, info.video_frames) for info in closed] == [(1, 45), (2, 30)]
    assert writer.skipped_before_keyframe == 10
    assert decoded_codes(closed[1].path) == list(range(60, 90))
    assert index_lines(closed[1])[0]["pts"] == 0


def test_codec_change_starts_a_new_segment(tmp_path: Path, clip: EncodedClip) -> None:
    h264 = h264_clip(frames=60)
    t1 = 10**18 + 4 * 10**9
    frames = video_frames(clip, count=60) + video_frames(h264, rtp0=5, t0=t1)
    _, closed = record(tmp_path, frames)

    assert [(info.codec, info.path.suffix, info.video_frames) for info in closed] == [
        ("VP8", ".webm", 60),
        ("H264", ".mkv", 60),
    ]
    for info in closed:
        check_index_matches_file(info)
    assert decoded_codes(closed[1].path) == list(range(60))


def test_h264_is_stored_length_prefixed_and_verifiable_against_the_received_bytes(tmp_path: Path) -> None:
    h264 = h264_clip(frames=60)
    assert all(is_keyframe("H264", f) == k for f, k in zip(h264.frames, h264.keyframes, strict=True))
    _, [info] = record(tmp_path, video_frames(h264), max_segment_seconds=60)

    lines = index_lines(info)
    assert all(line["stored_sha256"] != line["sha256"] for line in lines)
    check_index_matches_file(info)
    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)


def test_h264_with_short_start_codes_is_verifiable_as_stored(tmp_path: Path) -> None:
    h264 = h264_clip(frames=30, webrtc=False)
    _, [info] = record(tmp_path, video_frames(h264))

    check_index_matches_file(info, received_exactly=False)
    assert decoded_codes(info.path) == list(range(30))


def test_sequence_numbers_continue_after_existing_segments(tmp_path: Path, clip: EncodedClip) -> None:
    record(tmp_path, video_frames(clip, count=30))
    _, closed = record(tmp_path, video_frames(clip, count=30))

    assert [info.seq for info in closed] == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "segment-000001.index.jsonl",
        "segment-000001.webm",
        "segment-000002.index.jsonl",
        "segment-000002.webm",
    ]


def test_a_full_queue_drops_without_blocking_and_resumes_at_a_keyframe(
    tmp_path: Path, clip: EncodedClip
) -> None:
    closed: list[SegmentInfo] = []
    writer = SegmentWriter(tmp_path, queue_frames=40, on_closed=closed.append)
    for frame in video_frames(clip, count=90):  # not started: nothing drains the queue
        writer.write(frame)
    assert (writer.pending, writer.dropped) == (40, 50)
    writer.start()
    writer.close()

    assert writer.dropped == 50
    assert decoded_codes(closed[0].path) == list(range(40))


def test_callbacks_run_in_the_writer_thread(tmp_path: Path, clip: EncodedClip) -> None:
    threads: list[str] = []
    writer = SegmentWriter(tmp_path, on_closed=lambda _: threads.append(threading.current_thread().name))
    writer.start()
    for frame in video_frames(clip, count=10):
        writer.write(frame)
    writer.close()
    writer.close()  # harmless

    assert threads == ["segment-writer"]
    writer.write(video_frames(clip, count=1)[0])
    assert writer.dropped == 1


def test_a_failing_disk_is_reported_and_recording_goes_on_trying(tmp_path: Path, clip: EncodedClip) -> None:
    (tmp_path / "blocker").write_bytes(b"a file where the segment directory should be")
    errors: list[Exception] = []
    writer = SegmentWriter(tmp_path / "blocker" / "segments", on_error=errors.append)
    writer.start()
    for frame in video_frames(clip, count=90):
        writer.write(frame)
    writer.close()

    assert writer.written == 0
    assert writer.errors == len(errors) == 3  # one attempt per key frame
    assert all(isinstance(e, OSError) for e in errors)
    assert writer.last_error is not None and "blocker" in writer.last_error


def iter_frames(clip: EncodedClip, opus: list[bytes]) -> Iterator[Frame]:
    """Endless interleaved video and audio, as a phone would send it."""
    t0 = 10**18
    n = 0
    while True:
        video = video_frames(clip, first=0, count=len(clip.frames), rtp0=n * 3000, t0=t0)
        audio = audio_frames(opus, rtp0=n * 1600, t0=t0)
        horizon = t0 + len(clip.frames) * FRAME_NS
        yield from by_arrival(video, [f for f in audio if f.arrival_ns < horizon])
        n += len(clip.frames)
        t0 = horizon


def test_blocks_never_go_back_in_time_when_video_arrives_a_second_late(
    tmp_path: Path, clip: EncodedClip, opus: list[bytes]
) -> None:
    """Browsers refuse a WebM cluster whose blocks go back in time, so a segment must be in time
    order across audio and video even when the first key frame took 1 s to arrive (a thin
    uplink) while the audio came on time."""
    t0 = 10**18
    late = [
        Frame(f.kind, f.codec, f.data, f.rtp_timestamp, max(f.arrival_ns, t0 + 1_000_000_000) + i, f.keyframe)
        for i, f in enumerate(video_frames(clip, t0=t0))
    ]
    frames = by_arrival(late, audio_frames(opus, rtp0=5_000, t0=t0))
    _, [info] = record(tmp_path, frames, max_segment_seconds=60)

    with av.open(str(info.path)) as container:
        times = [float(p.pts * p.time_base) for p in container.demux() if p.size and p.pts is not None]
    backwards = [(a, b) for a, b in pairwise(times) if b < a]
    assert not backwards, f"{len(backwards)} blocks go back in time, first {backwards[0]}"
    check_index_matches_file(info)
