"""The receive tap: complete frames out in order; a packet lost for good does not stall the stream."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from server.media.frames import EncodedFrame
from server.media.tap import TapBuffer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def packets(frames: int, per_frame: int = 3) -> list[RtpPacket]:
    out = []
    seq = 65530  # crosses the 16-bit wrap
    for f in range(frames):
        for i in range(per_frame):
            p = RtpPacket(payload_type=96, sequence_number=seq % 65536, timestamp=f * 3000, ssrc=1)
            p.marker = 1 if i == per_frame - 1 else 0
            p._data = bytes([f % 256, i])  # type: ignore[attr-defined]
            out.append(p)
            seq += 1
    return out


def tap(clock: Clock, gaps: list[int]) -> tuple[TapBuffer, list[EncodedFrame]]:
    got: list[EncodedFrame] = []
    buffer = TapBuffer("video", {}, got.append, on_gap=lambda: gaps.append(1), clock=clock)
    return buffer, got


def test_frames_are_released_on_their_marker_in_order() -> None:
    clock, gaps = Clock(), []
    buffer, got = tap(clock, gaps)
    for p in packets(5):
        buffer.add(p)
    assert [f.rtp_timestamp for f in got] == [0, 3000, 6000, 9000, 12000]
    assert got[1].data == bytes([1, 0, 1, 1, 1, 2])
    assert gaps == []


def test_a_late_resend_fills_the_hole_without_losing_anything() -> None:
    clock, gaps = Clock(), []
    buffer, got = tap(clock, gaps)
    stream = packets(6)
    lost = stream.pop(4)  # middle packet of frame 1
    for p in stream[:8]:
        buffer.add(p)
        clock.now += 0.01
    assert [f.rtp_timestamp for f in got] == [0]  # frame 1 waits for its packet
    buffer.add(lost)  # the NACKed resend arrives in time
    for p in stream[8:]:
        buffer.add(p)
    assert [f.rtp_timestamp for f in got] == [0, 3000, 6000, 9000, 12000, 15000]
    assert gaps == []


def test_a_packet_lost_for_good_costs_one_frame_not_seconds() -> None:
    clock, gaps = Clock(), []
    buffer, got = tap(clock, gaps)
    stream = packets(20)
    del stream[4]  # frame 1 can never complete
    for p in stream:
        buffer.add(p)
        clock.now += 0.033 / 3
    # Once the hole is older than the timeout, frame 1 is dropped and the rest flows on.
    stamps = [f.rtp_timestamp for f in got]
    assert 3000 not in stamps
    assert stamps[-1] == 19 * 3000
    assert stamps == sorted(stamps)
    assert len(stamps) == 19  # every other frame still arrives, only later
    assert buffer.gaps == 1 and gaps == [1]  # and a keyframe was asked for
