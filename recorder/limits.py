"""What verifying a package may cost: bounds checked before the bytes are read or inflated.

A package is whatever someone uploaded: a 1 KB zip can declare a member of gigabytes
(a zip bomb) or a million problems. Every bound here is checked on what the zip's
directory and the package's manifest declare, before anything is inflated; reading then
never takes more than the declared size + 1 bytes from a member, so a member that
inflates past what it declared is caught after one byte too many. The figures, and why
they are what they are, are in docs/benchmarks.md.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

EOCD = struct.Struct("<4s4H2LH")  # signature, disks, entries here, entries, directory size, offset, comment
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


@dataclass(frozen=True, slots=True)
class VerifyLimits:
    max_problems: int = 100  # problems reported; the rest are counted
    stop_after: int = 1000  # problems after which ledger lines are hashed but not checked one by one
    max_members: int = 200_000  # zip members (an 8-hour audit with a still a second has ~32 000)
    max_directory: int = 64 << 20  # bytes of the zip's central directory
    max_ratio: int = 200  # inflated : compressed, for members over ratio_floor bytes
    ratio_floor: int = 64 << 10
    max_member: int = 256 << 20  # inflated bytes of one compressed member
    max_inflated: int = 1 << 30  # inflated bytes of all compressed members together
    max_entries: int = 250_000  # ledger lines
    max_tree_heads: int = 20_000
    text_members: dict[str, int] = field(
        default_factory=lambda: {
            "manifest.json": 16 << 20,
            "ledger/entries.jsonl": 64 << 20,
            "ledger/tree-heads.json": 8 << 20,
            "ledger/public-key.pem": 16 << 10,
        }
    )


DEFAULT_LIMITS = VerifyLimits()


class Problems:
    """The first ``limit`` problems, and a count of all of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[str] = []
        self.count = 0

    def append(self, problem: str) -> None:
        self.count += 1
        if len(self.kept) < self.limit:
            self.kept.append(problem)

    def __iadd__(self, problems: Iterable[str]) -> Problems:
        for problem in problems:
            self.append(problem)
        return self

    def __bool__(self) -> bool:
        return self.count > 0

    def __iter__(self) -> Iterator[str]:
        return iter(self.kept)

    @property
    def omitted(self) -> int:
        return self.count - len(self.kept)


def directory_problem(f: BinaryIO, limits: VerifyLimits) -> str | None:
    """Why the zip's central directory is too large to parse, from its end record alone; None if not."""
    f.seek(0, 2)
    size = f.tell()
    tail_size = min(size, EOCD.size + 0xFFFF)
    f.seek(size - tail_size)
    tail = f.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + EOCD.size > len(tail):
        return None  # not a zip: zipfile says so
    _, _, _, _, members, directory, _, _ = EOCD.unpack_from(tail, at)
    if members == 0xFFFF or directory == 0xFFFFFFFF:
        located = _zip64_end(f, size - tail_size + at)
        if located is None:
            return "its zip64 end record cannot be read"
        members, directory = located
    if members > limits.max_members:
        return f"it has {members} members, more than the {limits.max_members} a package can hold"
    if directory > limits.max_directory:
        return f"its directory is {directory} bytes, more than the {limits.max_directory} allowed"
    return None


def _zip64_end(f: BinaryIO, eocd_at: int) -> tuple[int, int] | None:
    if eocd_at < ZIP64_LOCATOR.size:
        return None
    f.seek(eocd_at - ZIP64_LOCATOR.size)
    signature, _, offset, _ = ZIP64_LOCATOR.unpack(f.read(ZIP64_LOCATOR.size))
    if signature != b"PK\x06\x07":
        return None
    f.seek(offset)
    record = f.read(ZIP64_EOCD.size)
    if len(record) != ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
        return None
    fields = ZIP64_EOCD.unpack(record)
    return fields[7], fields[8]  # entries in total, directory size


def inflation_problem(info: zipfile.ZipInfo, limit: int, limits: VerifyLimits) -> str | None:
    """Why a member must not be read: it declares more than ``limit`` bytes, or an implausible ratio."""
    if info.file_size > limit:
        return f"declares {info.file_size} bytes, more than the {limit} it may have; not read"
    if info.compress_type == zipfile.ZIP_STORED:
        return None
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor and ratio > limits.max_ratio:
        return (
            f"compressed {ratio:.0f}:1 ({info.compress_size} bytes to {info.file_size}), beyond the "
            f"{limits.max_ratio}:1 any package member reaches (a zip bomb?); not inflated"
        )
    return None
