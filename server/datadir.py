"""The data directory is private: directories 0700, files 0600.

It holds the audits' database, recordings, pictures and the ledger signing key. The
writers that create files (SQLite, the segment writer, the evidence store) create them
private themselves; :func:`prepare` makes the directory and tightens anything older.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
DATABASE_FILE = "virtual-audit.db"


def prepare(data_dir: Path) -> None:
    """Create the data dir and its database file private; tighten what an older version left open.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions, so the
    database is created here (an empty file is a valid new database) before SQLite opens it.
    """
    data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    database = data_dir / DATABASE_FILE
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    tighten(data_dir)


def tighten(root: Path) -> None:
    """chmod every directory under ``root`` to 0700 and every regular file to 0600."""
    _chmod(root, PRIVATE_DIR)
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames:
            _chmod(Path(directory, name), PRIVATE_DIR)
        for name in filenames:
            _chmod(Path(directory, name), PRIVATE_FILE)


def _chmod(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:  # removed while we walked (a temporary file)
        return
    if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
        return
    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
        path.chmod(mode)


def restrict_umask() -> int:
    """New files of this process are private by default (the server's CLI calls this once)."""
    return os.umask(PRIVATE_UMASK)
