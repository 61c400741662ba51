"""The export package: one zip with the evidence, the ledger and its signed tree heads.

Layout (docs/ledger.md has the details)::

    manifest.json              what the package holds (canonical JSON)
    ledger/entries.jsonl       every ledger entry, canonical JSON, one per line, in seq order
    ledger/tree-heads.json     the signed tree heads, oldest first
    ledger/public-key.pem      the Ed25519 key that signed them
    evidence/..., recording/.. the files, at the paths their ledger entries name
    report.html                the report rendered at completion, named (with its SHA-256)
                               by the completion entry; an older audit's is an extra file
    app.css, ...               extra files: not evidence, not covered by the ledger, never
                               under evidence/ or recording/

The zip is deterministic: the same inputs give the same bytes. Members are in path order
with a fixed time (1980-01-01 00:00:00) and mode (0644); media that is already compressed
is stored, everything else deflated at level 6 (zlib's default). :func:`write_package`
streams large files in 1 MiB chunks and checks each against its ledger entry as it copies
it. It blocks for as long as the copy takes: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from recorder.ledger import (
    CORRECTIVE_ACTION,
    FILE_TYPES,
    SignedTreeHead,
    canonical_json,
    corrective_file,
    corrective_video,
    package_path_problem,
    parse_canonical_json,
    sealed_report,
)

FORMAT = "virtual-audit-export/1"
MANIFEST = "manifest.json"
ENTRIES = "ledger/entries.jsonl"
TREE_HEADS = "ledger/tree-heads.json"
PUBLIC_KEY = "ledger/public-key.pem"
LEDGER_MEMBERS = (MANIFEST, ENTRIES, TREE_HEADS, PUBLIC_KEY)
EVIDENCE_DIRS = ("evidence/", "recording/")  # no extra file goes there, so nothing there passes for evidence
STORED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".webm", ".mkv", ".mp4"})
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # a regular file, rw-r--r--
CHUNK = 1 << 20
LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then the name and extra field lengths
# What zipfile and zlib raise on a damaged zip, besides BadZipFile: a bad version or method
# field gives NotImplementedError, a bad encryption flag RuntimeError, a bad offset OSError
# or ValueError, a bad extra field IndexError or struct.error (tests damage zips at random).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    OSError,
    ValueError,
    IndexError,
    struct.error,
)

Progress = Callable[[int, int], None]


class PackageError(Exception):
    """The package cannot be written as asked; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class PackageFile:
    """An evidence file to export: its package path, where its bytes are, what they must be."""

    path: str
    source: Path | bytes
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file a ledger entry names: its package path and what it must hash to."""

    path: str
    sha256: str
    size: int | None  # None when the entry does not state it (a segment's index)
    kind: str  # the entry's type, or "segment-index"
    seq: int


def entry_files(entry: Mapping[str, Any]) -> list[FileRef]:
    """The files a valid entry names: none for an event, one per still, two per segment."""
    seq, kind = entry["seq"], entry["type"]
    if kind in FILE_TYPES:
        return [FileRef(entry["path"], entry["sha256"], entry["size"], kind, seq)]
    if (report := sealed_report(entry)) is not None:
        return [FileRef(report["report_path"], report["report_sha256"], report["report_size"], "report", seq)]
    if kind == CORRECTIVE_ACTION:  # a response's photo and video, each when named
        files = (
            [FileRef(entry["path"], entry["sha256"], entry["size"], kind, seq)]
            if corrective_file(entry)
            else []
        )
        if corrective_video(entry):
            files.append(FileRef(entry["video_path"], entry["video_sha256"], entry["video_size"], kind, seq))
        return files
    if kind == "segment":
        return [
            FileRef(entry["path"], entry["sha256"], entry["size"], kind, seq),
            FileRef(
                entry["index_path"], entry["index_sha256"], entry.get("index_size"), "segment-index", seq
            ),
        ]
    return []


def compression(path: str) -> int:
    """ZIP_STORED for already-compressed media, ZIP_DEFLATED for everything else."""
    return (
        zipfile.ZIP_STORED if PurePosixPath(path).suffix.lower() in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
    )


def _file_list(entries: Sequence[bytes], files: Sequence[PackageFile]) -> list[dict[str, Any]]:
    """The manifest's ``files``, after checking the files are exactly those the ledger names."""
    refs: dict[str, FileRef] = {}
    for line in entries:
        refs.update((ref.path, ref) for ref in entry_files(parse_canonical_json(line)))
    problems, listed = [], []
    for f in sorted(files, key=lambda f: f.path):
        ref = refs.get(f.path)
        if ref is None:
            problems.append(f"{f.path}: not named by any ledger entry")
        elif f.sha256 != ref.sha256 or ref.size not in (None, f.size):
            problems.append(f"{f.path}: given as {f.sha256} ({f.size} bytes), ledger entry {ref.seq} differs")
        else:
            listed.append(
                {"path": f.path, "sha256": f.sha256, "size": f.size, "kind": ref.kind, "ledger_seq": ref.seq}
            )
    given = {f.path for f in files}
    if len(given) != len(files):
        problems.append("a path is given twice")
    problems += [
        f"{path}: named by ledger entry {ref.seq} but not given"
        for path, ref in refs.items()
        if path not in given
    ]
    if problems:
        raise PackageError("the files do not match the ledger: " + "; ".join(problems))
    return listed


def write_package(
    out: BinaryIO | Path,
    *,
    manifest: Mapping[str, Any],
    files: Sequence[PackageFile],
    entries: Sequence[bytes],
    tree_heads: Sequence[SignedTreeHead],
    public_key_pem: bytes,
    extra_files: Mapping[str, bytes] | None = None,
    progress: Progress | None = None,
) -> None:
    """Write the export package to ``out`` (a path is written atomically: all or nothing).

    ``manifest`` is the server's part (audit, template, checkpoints, results, outcome);
    ``format``, ``files`` and ``extra_files`` are filled in here. ``entries`` are the
    canonical entry bytes in seq order, ``tree_heads`` oldest first, the last one over
    all entries. Raises :class:`PackageError` if the files are not exactly those the
    ledger names or a file's bytes differ from its entry.
    """
    extra = dict(extra_files or {})
    reserved = {"format", "files", "extra_files"} & set(manifest)
    if reserved:
        raise PackageError(
            f"the manifest must not set {', '.join(sorted(reserved))}: write_package fills them"
        )
    if not tree_heads or tree_heads[-1].head.size != len(entries):
        raise PackageError(f"sign a tree head over all {len(entries)} entries before exporting")
    for path in extra:
        if path.startswith(EVIDENCE_DIRS):
            raise PackageError(f"extra file {path!r}: must not be under {' or '.join(EVIDENCE_DIRS)}")
        if (why := package_path_problem(path)) or path in {f.path for f in files}:
            raise PackageError(f"extra file {path!r}: {why or 'is also an evidence file'}")
    extras = [
        {"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for p, d in sorted(extra.items())
    ]
    full_manifest = {**manifest, "format": FORMAT, "files": _file_list(entries, files), "extra_files": extras}
    heads = {"tree_heads": [sth.to_json() for sth in tree_heads]}
    members: dict[str, bytes | PackageFile] = {
        MANIFEST: canonical_json(full_manifest),
        ENTRIES: b"".join(line + b"\n" for line in entries),
        TREE_HEADS: canonical_json(heads),
        PUBLIC_KEY: public_key_pem,
        **extra,
        **{f.path: f for f in files},
    }
    if isinstance(out, Path):
        _write_atomically(out, members, progress)
    else:
        _write_zip(out, members, progress)


def _write_atomically(
    out: Path, members: Mapping[str, bytes | PackageFile], progress: Progress | None
) -> None:
    fd, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_zip(f, members, progress)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_name, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _write_zip(out: BinaryIO, members: Mapping[str, bytes | PackageFile], progress: Progress | None) -> None:
    total = sum(m.size if isinstance(m, PackageFile) else len(m) for m in members.values())
    done = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for path in sorted(members):
            member = members[path]
            info = zipfile.ZipInfo(path, ZIP_TIME)
            info.create_system = 3  # Unix, so that external_attr carries the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = compression(path)
            # the expected size decides up front whether the member needs zip64 fields
            if isinstance(member, PackageFile):
                source, expected, info.file_size = member.source, member, member.size
            else:
                source, expected, info.file_size = member, None, len(member)
            digest = hashlib.sha256()
            size = 0
            with _open_source(source) as src, zf.open(info, "w") as dst:
                while n := src.readinto(buffer):
                    digest.update(view[:n])
                    dst.write(view[:n])
                    size += n
                    done += n
                    if progress:
                        progress(done, total)
            if expected and (digest.hexdigest(), size) != (expected.sha256, expected.size):
                raise PackageError(
                    f"{path}: the bytes read ({size} bytes, SHA-256 {digest.hexdigest()}) are not those the "
                    f"ledger recorded ({expected.size} bytes, SHA-256 {expected.sha256})"
                )
    if progress:
        progress(done, total)


def member_chunks(
    zf: zipfile.ZipFile, raw: io.BufferedReader, info: zipfile.ZipInfo, limit: int | None = None
) -> Iterator[bytes | memoryview]:
    """The bytes of one member of ``zf`` (whose file is also open as ``raw``), in chunks of up to 1 MiB.

    With ``limit``, stops after that many bytes whatever the member holds: a verifier asks
    for the size it expects + 1, so that a member longer than it should be costs one byte more.

    A stored member is read straight from the file: its SHA-256 is the check that matters,
    and skipping zipfile's CRC-32 pass saves CPU time per byte. Raises one of
    :data:`ZIP_ERRORS` if the zip is damaged. Chunks are only valid until the next one.
    """
    if info.compress_type != zipfile.ZIP_STORED:
        left = info.file_size + 1 if limit is None else limit
        with zf.open(info) as f:
            while left > 0 and (chunk := f.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk
        return
    if info.flag_bits & 0x1:
        raise zipfile.BadZipFile("encrypted")
    raw.seek(info.header_offset)
    header = raw.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size:
        raise EOFError("the zip ends inside a member's local header")
    signature, name_length, extra_length = LOCAL_HEADER.unpack(header)
    name = raw.read(name_length).decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
    if signature != b"PK\x03\x04" or name != info.orig_filename:
        raise zipfile.BadZipFile("its local header does not match the central directory")
    if info.compress_size != info.file_size:
        raise zipfile.BadZipFile(f"stored with {info.compress_size} bytes but declares {info.file_size}")
    raw.seek(extra_length, 1)
    view = memoryview(bytearray(CHUNK))
    left = info.compress_size if limit is None else min(info.compress_size, limit)
    while left > 0:
        n = raw.readinto(view[: min(left, CHUNK)])
        if not n:
            raise EOFError(f"the zip ends {left} bytes before the member does")
        left -= n
        yield view[:n]


def _open_source(source: Path | bytes) -> io.BufferedIOBase:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    try:
        return source.open("rb")
    except OSError as exc:
        raise PackageError(f"cannot read {source}: {exc.strerror or exc}") from exc
