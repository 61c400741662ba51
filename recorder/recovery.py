"""Recovery of a segment that was still open when its process stopped without closing it.

A killed :class:`~recorder.segments.SegmentWriter` leaves its open segment unfinalized: the
container ends in the middle of whatever the muxer had written (every cluster is flushed,
see :data:`~recorder.container.CONTAINER_OPTIONS`), and its index has one whole line per
frame muxed plus, at worst, a partial last line.

:func:`recover_segment` keeps the longest run of frames from the start, in index order,
whose packets are in the file with the digests their index lines state and whose video
decodes. Those packets are copied, unchanged, into a finalized container and their index
lines into a new index, both fsynced, and they replace the leftovers. The leftovers are never
deleted: they are linked into ``quarantine`` first. What follows the kept run is lost, and
:class:`RecoveredSegment` says how much.

Every function here blocks; call them from a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from recorder.container import (
    CONTAINER_OPTIONS,
    FORMATS,
    SegmentInfo,
    file_sha256,
    fsync_path,
    segment_stem,
)
from recorder.segments import SEGMENT_NAME

log = logging.getLogger(__name__)

SUFFIXES = {suffix: codec for codec, (_, suffix) in FORMATS.items()}


@dataclass(frozen=True, slots=True)
class RecoveredSegment:
    """A segment rebuilt from what an unclean stop left on disk."""

    info: SegmentInfo  # of the rebuilt files, as if the segment had been closed there
    lost_video_frames: int  # listed in the index after the kept run
    lost_audio_frames: int
    stopped_ns: int  # arrival time of the last frame the index lists: when recording stopped


class NothingToRecover(Exception):
    """Not one frame of the segment can be kept; the message says why."""


def segment_files(directory: Path) -> list[Path]:
    """The segment files in a recording directory, by sequence number."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if SEGMENT_NAME.match(p.name) and p.suffix in SUFFIXES]
    return sorted(found, key=segment_seq)


def segment_seq(path: Path) -> int:
    match = SEGMENT_NAME.match(path.name)
    if match is None:
        raise ValueError(f"not a segment file: {path.name}")
    return int(match.group(1))


def index_path_of(segment: Path) -> Path:
    return segment.with_name(f"{segment_stem(segment_seq(segment))}.index.jsonl")


def read_index(path: Path) -> list[dict[str, Any]]:
    """The index's whole lines, up to the first that is cut short or unreadable."""
    lines: list[dict[str, Any]] = []
    if not path.exists():
        return lines
    for raw in path.read_bytes().split(b"\n"):
        try:
            line = json.loads(raw)
        except ValueError:
            break
        if not isinstance(line, dict) or line.get("kind") not in ("video", "audio"):
            break
        lines.append(line)
    return lines


def recover_segment(path: Path, quarantine: Path) -> RecoveredSegment:
    """Rebuild ``path`` from its longest intact prefix; the leftovers go to ``quarantine``.

    Raises :class:`NothingToRecover` when no frame can be kept (the files are then left
    where they are for the caller to set aside).
    """
    index_path = index_path_of(path)
    lines = read_index(index_path)
    if not lines:
        raise NothingToRecover("its index lists no frame")
    packets = _intact_packets(path, lines)
    kept = _kept_run(lines, packets)
    if not any(line["kind"] == "video" for line in lines[:kept]):
        raise NothingToRecover("no video frame of it reached the disk intact")
    keep_lines = lines[:kept]
    counts = {kind: sum(line["kind"] == kind for line in keep_lines) for kind in ("video", "audio")}
    rebuilt = path.with_name(f".{path.name}.recovered.tmp")
    rebuilt_index = index_path.with_name(f".{index_path.name}.recovered.tmp")
    try:
        _remux(path, rebuilt, counts)
        _write_lines(rebuilt_index, keep_lines)
        _set_aside(path, quarantine)
        _set_aside(index_path, quarantine)
        os.replace(rebuilt, path)
        os.replace(rebuilt_index, index_path)
        fsync_path(path.parent)
    finally:
        for leftover in (rebuilt, rebuilt_index):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    lost = lines[kept:]
    info = SegmentInfo(
        seq=segment_seq(path),
        path=path,
        index_path=index_path,
        codec=SUFFIXES[path.suffix],
        start_ns=min(int(line["arrival_ns"]) for line in keep_lines),
        end_ns=max(int(line["arrival_ns"]) for line in keep_lines),
        video_frames=counts["video"],
        audio_frames=counts["audio"],
        sha256=file_sha256(path),
        index_sha256=file_sha256(index_path),
        size=path.stat().st_size,
        index_size=index_path.stat().st_size,
    )
    return RecoveredSegment(
        info=info,
        lost_video_frames=sum(line["kind"] == "video" for line in lost),
        lost_audio_frames=sum(line["kind"] == "audio" for line in lost),
        stopped_ns=max(int(line["arrival_ns"]) for line in lines),
    )


def _intact_packets(path: Path, lines: list[dict[str, Any]]) -> dict[str, int]:
    """Per kind, how many packets from the start match their index line (and decode, for video)."""
    expected = {kind: [line for line in lines if line["kind"] == kind] for kind in ("video", "audio")}
    good = {"video": 0, "audio": 0}
    stopped: set[str] = set()
    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams if s.type in good]
            for packet in container.demux(streams):
                kind = packet.stream.type
                if not packet.size or kind in stopped:
                    continue
                want = expected[kind]
                n = good[kind]
                if n >= len(want) or not _matches(bytes(packet), want[n]) or not _decodes(packet):
                    stopped.add(kind)
                    continue
                good[kind] = n + 1
    except (av.FFmpegError, OSError) as exc:  # a cut-off file ends in a damaged element
        log.info("%s: reading stopped at %s", path.name, exc)
    return good


def _matches(stored: bytes, line: dict[str, Any]) -> bool:
    digest = line.get("stored_sha256", line.get("sha256"))
    return hashlib.sha256(stored).hexdigest() == digest


def _decodes(packet: av.Packet[Any]) -> bool:
    if packet.stream.type != "video":
        return True
    try:
        packet.decode()
    except av.FFmpegError:
        return False
    return True


def _kept_run(lines: list[dict[str, Any]], good: dict[str, int]) -> int:
    """How many index lines, from the first, have an intact packet: a single cut for both kinds."""
    seen = {"video": 0, "audio": 0}
    for position, line in enumerate(lines):
        kind = line["kind"]
        if seen[kind] >= good[kind]:
            return position
        seen[kind] += 1
    return len(lines)


def _remux(source: Path, target: Path, counts: dict[str, int]) -> None:
    """Copy the first ``counts[kind]`` packets of each kind into a finalized container."""
    container_format = FORMATS[SUFFIXES[source.suffix]][0]
    with (
        av.open(str(source)) as src,
        av.open(str(target), "w", format=container_format, container_options=CONTAINER_OPTIONS) as dst,
    ):
        streams = [s for s in src.streams if s.type in counts]
        mapping = {s.index: dst.add_stream_from_template(s, opaque=True) for s in streams}
        copied = {kind: 0 for kind in counts}
        with contextlib.suppress(av.FFmpegError, OSError):
            for packet in src.demux(streams):
                kind = packet.stream.type
                if not packet.size or copied[kind] >= counts[kind]:
                    continue
                copied[kind] += 1
                packet.stream = mapping[packet.stream.index]
                dst.mux(packet)
                if copied == counts:
                    break
    fsync_path(target)


def _write_lines(target: Path, lines: list[dict[str, Any]]) -> None:
    with target.open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _set_aside(path: Path, quarantine: Path) -> None:
    """Link (or copy) ``path`` into ``quarantine``; the original stays until it is replaced."""
    if not path.exists():
        return
    quarantine.mkdir(parents=True, exist_ok=True)
    target = free_name(quarantine / path.name)
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
    fsync_path(quarantine)


def free_name(target: Path) -> Path:
    """``target``, or ``target`` with ``.1``, ``.2``... appended when that name is taken."""
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}.{n}")
    return candidate
