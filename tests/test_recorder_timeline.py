"""The media time line: smooth despite jitter, audio and video together, always moving forward."""

from __future__ import annotations

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
