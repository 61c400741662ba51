"""Where evidence blobs live: a small interface, and a local-filesystem implementation.

Blobs are addressed by relative POSIX paths (``audits/<id>/stills/000042.jpg``). A
``put`` is durable when it returns: an acknowledged capture survives a power cut. Every
method blocks; call them from worker threads. An S3-compatible store implements the same
:class:`BlobStore` protocol (``path`` returns None there).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

FULL = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR}


class StoreError(Exception):
    """The evidence store cannot do what was asked; the message says why, for an operator."""


class BlobNotFound(StoreError):
    """No blob at that path."""


@dataclass(frozen=True, slots=True)
class StoredBlob:
    relpath: str
    size: int
    sha256: str  # hex digest of the bytes stored


class BlobStore(Protocol):
    def put(self, relpath: str, data: bytes) -> StoredBlob:
        """Store ``data`` at ``relpath`` (replacing any blob there), durably, before returning."""
        ...

    def open(self, relpath: str) -> BinaryIO:
        """Open a stored blob for reading; raises :class:`BlobNotFound`."""
        ...

    def path(self, relpath: str) -> Path | None:
        """A local filesystem path for the blob, if the store has one."""
        ...

    def exists(self, relpath: str) -> bool: ...


def checked_relpath(relpath: str) -> PurePosixPath:
    """``relpath`` as a path that stays inside the store, or ValueError."""
    path = PurePosixPath(relpath)
    if not relpath or "\x00" in relpath or "\\" in relpath:
        raise ValueError(f"invalid blob path: {relpath!r}")
    if path.is_absolute() or any(part in ("..", ".") for part in relpath.split("/")):
        raise ValueError(f"blob path must be relative and must not contain '.' or '..': {relpath!r}")
    if relpath.endswith("/"):
        raise ValueError(f"blob path names a directory: {relpath!r}")
    return path


def store_error(exc: OSError, path: Path) -> StoreError:
    """An operator-readable :class:`StoreError` for an OS failure on ``path``."""
    reason = exc.strerror or str(exc)
    if exc.errno in FULL:
        return StoreError(f"evidence store full: {reason.lower()} ({path})")
    if exc.errno in NOT_WRITABLE:
        return StoreError(f"evidence store not writable: {reason.lower()} ({path})")
    return StoreError(f"evidence store write failed: {reason.lower()} ({path})")


class FileStore:
    """Blobs as files under ``root``; each ``put`` is an atomic, fsynced replace."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _resolve(self, relpath: str) -> Path:
        return self.root.joinpath(*checked_relpath(relpath).parts)

    def put(self, relpath: str, data: bytes) -> StoredBlob:
        target = self._resolve(relpath)
        try:
            self._make_parents(target.parent)
            self._write_atomically(target, data)
        except OSError as exc:
            raise store_error(exc, target) from exc
        return StoredBlob(relpath, len(data), hashlib.sha256(data).hexdigest())

    def open(self, relpath: str) -> BinaryIO:
        target = self._resolve(relpath)
        try:
            return target.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BlobNotFound(f"no evidence blob at {relpath}") from exc

    def path(self, relpath: str) -> Path | None:
        return self._resolve(relpath)

    def exists(self, relpath: str) -> bool:
        return self._resolve(relpath).is_file()

    def _make_parents(self, directory: Path) -> None:
        # Directories created here are fsynced into their parents, or a power cut could
        # lose the new file together with its directory entry.
        missing: list[Path] = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
            _fsync_dir(path.parent)

    @staticmethod
    def _write_atomically(target: Path, data: bytes) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
