"""Taps aiortc receivers so that encoded frames reach us instead of its decoder.

aiortc has no public API for this. A receiver hands each RTP packet to its jitter buffer
and queues whatever frame comes out for a decoder thread. We swap in our own buffer
(:class:`TapBuffer`) that hands complete frames to a sink and returns nothing, so the
decoder thread idles and no frame is decoded unless someone asks for it. Video frames
are released on their marker-bit packet rather than on the next frame's first packet,
which saves one frame interval of latency. :func:`check_internals` fails loudly if a
new aiortc moves the attributes this relies on; a test calls it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpCodecCapability, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcpeerconnection import filter_preferred_codecs
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci
from aiortc.utils import uint16_add, uint16_gt

from server.media.frames import EncodedFrame, FrameSink, is_keyframe
from server.media.remb import ThroughputEstimator

log = logging.getLogger(__name__)

_JITTER = "_RTCRtpReceiver__jitter_buffer"
_CODECS = "_RTCRtpReceiver__codecs"
_KIND = "_RTCRtpReceiver__kind"
_REMB = "_RTCRtpReceiver__remote_bitrate_estimator"
_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"
PLI_MIN_INTERVAL = 0.3
HOLE_TIMEOUT_S = 0.2  # how long a missing packet may hold back later frames (NACK resend time)


class AiortcInternalsChanged(RuntimeError):
    """The installed aiortc does not have the internals the passthrough hub relies on."""


def check_internals() -> None:
    """Raise if aiortc's private attributes used here are gone (pin aiortc, then adapt)."""
    probe = RTCRtpReceiver.__init__.__code__.co_names
    for name in (_JITTER, _CODECS, _KIND, _REMB, _RTCP_SSRC):
        if name not in probe:
            raise AiortcInternalsChanged(f"RTCRtpReceiver no longer sets {name}")
    for cls, attr in (
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpReceiver, "_send_rtcp"),
        (RTCRtpSender, "_send_keyframe"),
    ):
        if not callable(getattr(cls, attr, None)):
            raise AiortcInternalsChanged(f"{cls.__name__}.{attr} is gone")
    if not hasattr(JitterBuffer, "add") or not hasattr(JitterBuffer, "remove"):
        raise AiortcInternalsChanged("JitterBuffer API changed")
    if "_codecs" not in RTCRtpTransceiver.__init__.__code__.co_names:
        raise AiortcInternalsChanged("RTCRtpTransceiver no longer sets _codecs")


def order_answer_codecs(transceiver: RTCRtpTransceiver, preferred: list[RTCRtpCodecCapability]) -> None:
    """Order the codecs an answer will name by ``preferred`` (the answer's first is the one used).

    aiortc settles a transceiver's codecs when the remote offer is applied, in the offer's
    order; preferences set afterwards only shape a later offer. An answerer that wants its
    own order reorders them here (keeping only codecs both sides have, so nothing new).
    """
    ordered = filter_preferred_codecs(transceiver._codecs, preferred)
    if ordered:
        transceiver._codecs = ordered


class TapBuffer(JitterBuffer):
    """A jitter buffer that delivers complete frames to a sink and never to aiortc's decoder."""

    def __init__(
        self,
        kind: str,
        codecs: dict[int, Any],
        sink: FrameSink,
        on_gap: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_remb: Callable[[int, int], object] | None = None,
    ) -> None:
        super().__init__(capacity=512 if kind == "video" else 16, is_video=kind == "video")
        self.kind = kind
        self._codecs = codecs
        self._sink = sink
        self._on_gap = on_gap
        self._on_remb = on_remb
        self.remb = ThroughputEstimator(clock)
        self._clock = clock
        self._newest: int | None = None
        self._stuck_since: float | None = None
        self.gaps = 0  # holes given up on: their incomplete frames were dropped
        self._last_audio_seq: int | None = None
        self.ssrc: int | None = None
        self.codec_name: str | None = None
        # Running totals of the video delivered: the server's own view of the phone's uplink.
        self.frames = 0
        self.bytes = 0
        self.keyframes = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        self.ssrc = packet.ssrc
        if self.kind == "audio":
            self._deliver_audio(packet)
            return False, None
        if self._newest is None or uint16_gt(packet.sequence_number, self._newest):
            self._newest = packet.sequence_number
        bitrate = self.remb.add(packet.sequence_number, len(packet.payload) + packet.padding_size)
        if bitrate is not None and self._on_remb is not None:
            self._on_remb(bitrate, packet.ssrc)
        pli, _ = super().add(packet)
        return pli, None

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        # Called by JitterBuffer.add after storing a packet: release every frame that is complete.
        while self._release_one():
            self._stuck_since = None
        self._give_up_on_hole()
        return None

    def _buffered(self) -> int:
        """Packets (present or missing) between the head and the newest one received."""
        if self._origin is None or self._newest is None:
            return 0
        distance = uint16_add(self._newest, -self._origin) + 1
        return distance if distance <= self.capacity else 0

    def _give_up_on_hole(self) -> None:
        """A packet lost for good (its resend lost too) must not hold every later frame back.

        After HOLE_TIMEOUT_S the incomplete frame is dropped, the stream resumes at the next
        frame, and the sender is asked for a keyframe so decoders recover.
        """
        if self._buffered() == 0:
            self._stuck_since = None
            return
        now = self._clock()
        if self._stuck_since is None:
            self._stuck_since = now
            return
        if now - self._stuck_since < HOLE_TIMEOUT_S:
            return
        self._stuck_since = None
        self._skip_incomplete()
        self.gaps += 1
        log.info("video packet lost for good: skipped an incomplete frame (%d so far)", self.gaps)
        if self._on_gap is not None:
            self._on_gap()
        while self._release_one():
            pass

    def _skip_incomplete(self) -> None:
        assert self._origin is not None
        total = self._buffered()
        first_ts: int | None = None
        skip = total
        for count in range(total):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:
                continue
            if first_ts is None:
                first_ts = packet.timestamp
            elif packet.timestamp != first_ts:
                skip = count
                break
        self.remove(skip)

    def _release_one(self) -> bool:
        assert self._origin is not None
        packets: list[RtpPacket] = []
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]
            if packet is None:
                return False
            if packets and packet.timestamp != packets[0].timestamp:
                # The previous frame ended without a marker bit (it was lost): release it.
                self.remove(count)
                self._deliver_video(packets)
                return True
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                self._deliver_video(packets)
                return True
        return False

    def _codec_name(self, payload_type: int) -> str:
        codec = self._codecs.get(payload_type)
        return str(codec.name) if codec is not None else "unknown"

    def _deliver_video(self, packets: list[RtpPacket]) -> None:
        first = packets[0]
        data = b"".join(p._data for p in packets)  # type: ignore[attr-defined]  # set by the receiver
        codec = self._codec_name(first.payload_type)
        self.codec_name = codec
        keyframe = is_keyframe(codec, data)
        self.frames += 1
        self.bytes += len(data)
        self.keyframes += keyframe
        self._sink(
            EncodedFrame(
                kind="video",
                codec=codec,
                data=data,
                rtp_timestamp=first.timestamp,
                arrival_ns=time.time_ns(),
                keyframe=keyframe,
                ssrc=first.ssrc,
            )
        )

    def _deliver_audio(self, packet: RtpPacket) -> None:
        last = self._last_audio_seq
        if last is not None and not uint16_gt(packet.sequence_number, last):
            return  # late or duplicate: audio is played in order or not at all
        self._last_audio_seq = packet.sequence_number
        level = packet.extensions.audio_level
        codec = self._codec_name(packet.payload_type)
        self.codec_name = codec
        self._sink(
            EncodedFrame(
                kind="audio",
                codec=codec,
                data=packet._data,  # type: ignore[attr-defined]
                rtp_timestamp=packet.timestamp,
                arrival_ns=time.time_ns(),
                keyframe=True,
                ssrc=packet.ssrc,
                audio_level=level[1] if level is not None else None,
            )
        )


class ReceiverTap:
    """Our handle on one tapped receiver: where its frames go, and how to ask for a keyframe."""

    def __init__(self, receiver: RTCRtpReceiver, sink: FrameSink) -> None:
        kind = getattr(receiver, _KIND)
        self.receiver = receiver
        self.kind: str = kind
        self.buffer = TapBuffer(kind, getattr(receiver, _CODECS), sink, on_gap=self._gap, on_remb=self._remb)
        setattr(receiver, _JITTER, self.buffer)
        if kind == "video":
            # Our REMB (server.media.remb) replaces aiortc's delay-based one, which a busy
            # event loop fools into reporting congestion on an idle link.
            setattr(receiver, _REMB, None)
        self._last_pli = 0.0
        self._pli_task: asyncio.Task[None] | None = None
        self._remb_task: asyncio.Future[None] | None = None

    def _gap(self) -> None:
        # Force the request: frames after a lost one cannot be decoded until a keyframe.
        self._last_pli = 0.0
        self.request_keyframe()

    def _remb(self, bitrate: int, media_ssrc: int) -> None:
        """Tell the phone how much video the link carries (a REMB, RFC draft-alvestrand-rmcat-remb)."""
        rtcp_ssrc = getattr(self.receiver, _RTCP_SSRC, None)
        if rtcp_ssrc is None:
            return
        fci = pack_remb_fci(bitrate, [media_ssrc])
        packet = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=fci)
        self._remb_task = asyncio.ensure_future(self.receiver._send_rtcp(packet))

    def request_keyframe(self) -> bool:
        """Send a PLI to the sender (rate limited). True if one was sent."""
        now = time.monotonic()
        ssrc = self.buffer.ssrc
        if self.kind != "video" or ssrc is None or now - self._last_pli < PLI_MIN_INTERVAL:
            return False
        self._last_pli = now
        self._pli_task = asyncio.ensure_future(self.receiver._send_rtcp_pli(ssrc))
        return True


def on_keyframe_request(sender: RTCRtpSender, callback: Any) -> None:
    """Route a viewer's PLI/FIR to ``callback`` instead of aiortc's encoder flag."""
    sender._send_keyframe = callback  # type: ignore[method-assign]
