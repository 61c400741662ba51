"""One evidence segment: a Matroska/WebM file of the received packets and its per-frame index.

Packets are muxed as received, never decoded or re-encoded: VP8 (+ Opus) into WebM and
H.264 (+ Opus) into Matroska. The only change to any payload is the one Matroska demands
of H.264 (start codes become 4-byte lengths, see :mod:`recorder.bitstream`); those index
lines also carry ``stored_sha256``, the digest of the packet as stored.

The index has one JSON object per written frame, in write order::

    {"n": 0, "kind": "video", "arrival_ns": ..., "rtp_timestamp": ..., "pts": 0,
     "size": ..., "keyframe": true, "sha256": "..."}

``n`` counts frames of both kinds from 0; ``pts`` is in ticks of the kind's clock (1/90000 s
for video, 1/48000 s for audio) from the segment's first key frame; ``size`` and ``sha256``
are of ``data`` exactly as received. Each line is flushed as its frame is muxed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

import av
from av.container import OutputContainer
from av.stream import Stream

from recorder.bitstream import annexb_from_units, avc_decoder_config, to_avcc, vp8_size
from recorder.timeline import AUDIO_CLOCK, VIDEO_CLOCK, Frame

PRIVATE_FILE = 0o600  # recordings are confidential to the audit

# format, file suffix
FORMATS = {"VP8": ("webm", ".webm"), "H264": ("matroska", ".mkv")}
# What a crash can take from the open segment is what the muxer still holds: the cluster
# being built (at most 0.5 s: it is written out whole when it ends, and flush_packets
# makes that write reach the file at once instead of waiting for 256 KiB of output), and
# video waiting to be interleaved with audio (at most 0.4 s when the audio is silent or
# missing). See docs/operations.md for what was measured.
CONTAINER_OPTIONS = {"cluster_time_limit": "500", "max_interleave_delta": "400000", "flush_packets": "1"}
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 0, AUDIO_CLOCK, 0, 0)
HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """A closed segment: both files are finalized, fsynced and hashed."""

    seq: int
    path: Path
    index_path: Path
    codec: str
    start_ns: int  # arrival_ns of the first frame written
    end_ns: int  # arrival_ns of the last frame written
    video_frames: int
    audio_frames: int
    sha256: str
    index_sha256: str
    size: int = 0  # bytes of the segment file
    index_size: int = 0  # bytes of the index file


@dataclass(frozen=True, slots=True)
class VideoParams:
    """What a segment's video track is declared with; a change starts a new segment."""

    codec: str
    width: int = 0
    height: int = 0
    sps: bytes = b""
    pps: bytes = b""


def vp8_params(keyframe: bytes) -> VideoParams | None:
    size = vp8_size(keyframe)
    return VideoParams("VP8", width=size[0], height=size[1]) if size is not None else None


def segment_stem(seq: int) -> str:
    return f"segment-{seq:06d}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentFile:
    """An open segment. Not thread-safe: one writer thread owns it from open to close."""

    def __init__(self, directory: Path, seq: int, params: VideoParams, first: Frame) -> None:
        container_format, suffix = FORMATS[params.codec]
        self.seq = seq
        self.params = params
        self.path = directory / f"{segment_stem(seq)}{suffix}"
        self.index_path = directory / f"{segment_stem(seq)}.index.jsonl"
        self.video_frames = self.audio_frames = 0
        self.start_ns = self.end_ns = first.arrival_ns
        self._index: TextIO = open(_private_new_file(self.index_path), "w", encoding="utf-8")  # noqa: SIM115
        try:
            os.close(_private_new_file(self.path))  # the muxer reopens it, keeping the mode
            self._container: OutputContainer = av.open(
                str(self.path), "w", format=container_format, container_options=CONTAINER_OPTIONS
            )
            self._video = _video_stream(self._container, params, first.data)
            self._audio = _opus_stream(self._container)
        except BaseException:
            self.abort()
            raise

    @property
    def codec(self) -> str:
        return self.params.codec

    @property
    def frames(self) -> int:
        return self.video_frames + self.audio_frames

    def write(self, frame: Frame, pts: int) -> None:
        """Mux one frame at ``pts`` (ticks of its kind's clock) and append its index line."""
        video = frame.kind == "video"
        restated = video and self.codec == "H264"
        payload = to_avcc(frame.data) if restated else frame.data
        packet = av.Packet(payload)
        packet.stream = self._video if video else self._audio
        packet.time_base = Fraction(1, VIDEO_CLOCK if video else AUDIO_CLOCK)
        packet.pts = packet.dts = pts
        packet.is_keyframe = frame.keyframe if video else True
        self._container.mux(packet)
        line: dict[str, Any] = {
            "n": self.frames,
            "kind": frame.kind,
            "arrival_ns": frame.arrival_ns,
            "rtp_timestamp": frame.rtp_timestamp,
            "pts": pts,
            "size": len(frame.data),
            "keyframe": frame.keyframe,
            "sha256": hashlib.sha256(frame.data).hexdigest(),
        }
        if restated:
            line["stored_sha256"] = hashlib.sha256(payload).hexdigest()
        self._index.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._index.flush()
        if video:
            self.video_frames += 1
        else:
            self.audio_frames += 1
        self.end_ns = max(self.end_ns, frame.arrival_ns)

    def close(self) -> SegmentInfo:
        """Finalize the container, fsync both files and their directory, and hash them."""
        self._container.close()
        self._index.flush()
        os.fsync(self._index.fileno())
        self._index.close()
        fsync_path(self.path)
        fsync_path(self.path.parent)
        return SegmentInfo(
            seq=self.seq,
            path=self.path,
            index_path=self.index_path,
            codec=self.codec,
            start_ns=self.start_ns,
            end_ns=self.end_ns,
            video_frames=self.video_frames,
            audio_frames=self.audio_frames,
            sha256=file_sha256(self.path),
            index_sha256=file_sha256(self.index_path),
            size=self.path.stat().st_size,
            index_size=self.index_path.stat().st_size,
        )

    def abort(self) -> None:
        """Close whatever can still be closed after a failure; the files stay as they are."""
        container = getattr(self, "_container", None)
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
        with contextlib.suppress(Exception):
            self._index.close()


def make_private_dirs(directory: Path) -> None:
    """``mkdir -p`` with every created level 0700 (``parents=True`` would leave them to the umask)."""
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def _private_new_file(path: Path) -> int:
    """Create ``path`` (it must not exist) readable by this user only; return its descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)


def _video_stream(container: OutputContainer, params: VideoParams, keyframe: bytes) -> Stream:
    if params.codec == "VP8":
        stream = container.add_mux_stream("vp8", width=params.width, height=params.height)
    else:
        stream = _h264_stream(container, params, keyframe)
    stream.time_base = Fraction(1, VIDEO_CLOCK)
    return stream


def _h264_stream(container: OutputContainer, params: VideoParams, keyframe: bytes) -> Stream:
    # The picture size lives in the SPS; FFmpeg's raw H.264 probe reads it for us. The
    # CodecPrivate is built here, from the same SPS/PPS the packets carry.
    probe_data = annexb_from_units([params.sps, params.pps]) + keyframe
    with av.open(io.BytesIO(probe_data), "r", format="h264") as probe:
        stream = container.add_stream_from_template(probe.streams.video[0], opaque=True)
    stream.codec_context.extradata = avc_decoder_config(params.sps, params.pps)
    return stream


def _opus_stream(container: OutputContainer) -> Stream:
    # A stream made from a template is muxed without opening an encoder, so the OpusHead
    # set here (2 channels, as WebRTC signals Opus, no pre-skip) is what gets written.
    with av.open(io.BytesIO(), "w", format="matroska") as scratch:
        template = scratch.add_stream(_opus_encoder_name(), rate=AUDIO_CLOCK)
        stream = container.add_stream_from_template(template, opaque=True)
    stream.codec_context.extradata = OPUS_HEAD
    stream.time_base = Fraction(1, AUDIO_CLOCK)
    return stream


def _opus_encoder_name() -> str:
    return "libopus" if "libopus" in av.codecs_available else "opus"
