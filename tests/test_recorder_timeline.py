"""The media time line: smooth despite jitter, audio and video together, always moving forward."""

from __future__ import annotations

from itertools import pairwise

import pytest

from recorder.timeline import AUDIO_CLOCK, VIDEO_CLOCK, Timeline, unwrap
from tests.test_recorder_segments import Frame

T0 = 10**18
MS = 1_000_000


def video(rtp: int, arrival_ns: int) -> Frame:
    return Frame("video", "VP8", b"", rtp % 2**32, arrival_ns, False)


def audio(rtp: int, arrival_ns: int) -> Frame:
    return Frame("audio", "opus", b"", rtp % 2**32, arrival_ns, True)


def test_unwrap_crosses_the_32_bit_boundary_both_ways() -> None:
    assert unwrap(2**32 - 1000, 2000) == 2**32 + 2000
    assert unwrap(2**32 + 2000, 2**32 - 1000) == 2**32 - 1000
    assert unwrap(5000, 4000) == 4000


def test_video_follows_rtp_not_arrival_jitter() -> None:
    timeline = Timeline()
    jitter = [0, 25, 3, 40, 0, 12]
    ticks = [
        timeline.place(video(2**32 - 6000 + n * 3000, T0 + n * 33 * MS + j * MS))
        for n, j in enumerate(jitter)
    ]

    assert ticks == [n * 3000 for n in range(6)]


def test_audio_and_video_share_the_arrival_anchored_time_line() -> None:
    timeline = Timeline()
    assert timeline.place(video(555, T0)) == 0
    # Audio's RTP clock starts elsewhere; its first packet arrives 100 ms later.
    assert timeline.place(audio(3_000_000_000, T0 + 100 * MS)) == AUDIO_CLOCK // 10
    assert timeline.place(audio(3_000_000_000 + 960, T0 + 140 * MS)) == AUDIO_CLOCK // 10 + 960
    assert timeline.place(video(555 + 9000, T0 + 101 * MS)) == VIDEO_CLOCK // 10


def test_a_restarted_rtp_clock_is_re_anchored_and_time_still_moves_forward() -> None:
    timeline = Timeline()
    timeline.place(video(1000, T0))
    timeline.place(video(4000, T0 + 33 * MS))
    after_jump = timeline.place(video(1_000_000_000, T0 + 66 * MS))  # sender restarted its clock
    backwards = timeline.place(video(10, T0 + 99 * MS))

    assert after_jump == 66 * MS * VIDEO_CLOCK // 10**9
    assert after_jump < backwards <= 99 * MS * VIDEO_CLOCK // 10**9


def test_reset_starts_a_new_session() -> None:
    timeline = Timeline()
    timeline.place(video(1000, T0))
    timeline.reset()

    assert timeline.place(video(77, T0 + 10**10)) == 0


def placements(frames: list[Frame]) -> list[tuple[str, float]]:
    """Each frame's kind and time in seconds, placed in arrival order."""
    timeline = Timeline()
    placed = []
    for frame in sorted(frames, key=lambda f: f.arrival_ns):
        rate = VIDEO_CLOCK if frame.kind == "video" else AUDIO_CLOCK
        placed.append((frame.kind, timeline.place(frame) / rate))
    return placed


def check_order(placed: list[tuple[str, float]]) -> None:
    """No frame more than 0.3 s before the latest already placed; each kind strictly increasing."""
    latest = 0.0
    for kind, at in placed:
        assert at > latest - 0.3 - 1e-6, f"{kind} placed at {at:.3f} s, after {latest:.3f} s"
        latest = max(latest, at)
    for kind in ("audio", "video"):
        times = [at for k, at in placed if k == kind]
        assert all(a < b for a, b in pairwise(times)), kind


def test_a_kind_anchored_far_ahead_of_the_other_brings_it_along() -> None:
    """The first key frame arrives 1 s after capture (a thin uplink), the audio on time: audio
    is held within 0.3 s of the video already placed, and once it has been behind for 2 s it is
    moved forward for good, keeping its own RTP spacing."""
    frames = [audio(7_000 + n * 960, T0 + n * 20 * MS) for n in range(300)]
    # Video captured from T0 at 30 fps; frames queued behind the first arrive in a burst.
    frames += [video(500 + n * 3000, max(T0 + 1000 * MS, T0 + n * 33 * MS) + n) for n in range(180)]
    placed = placements(frames)
    check_order(placed)
    late_audio = [at for k, at in placed if k == "audio"][-10:]
    assert [round(b - a, 3) for a, b in pairwise(late_audio)] == [0.02] * 9


def test_a_burst_of_late_frames_leaves_the_time_line_where_it_was() -> None:
    """Video held back 0.8 s by the network for a moment, then on time again: the late burst is
    held to the bound, and the frames after it are placed by their RTP times as before."""
    frames = [audio(7_000 + n * 960, T0 + n * 20 * MS) for n in range(300)]
    delay = [800 * MS if 60 <= n < 75 else 0 for n in range(180)]
    arrivals = [T0 + n * 33 * MS + d for n, d in enumerate(delay)]
    arrivals = [max(arrivals[: n + 1]) + n for n in range(180)]  # in order, as a queue delivers them
    frames += [video(500 + n * 3000, arrival) for n, arrival in enumerate(arrivals)]
    placed = placements(frames)
    check_order(placed)
    video_times = [at for k, at in placed if k == "video"]
    assert video_times[-1] == pytest.approx(179 * 3000 / VIDEO_CLOCK, abs=0.001)
