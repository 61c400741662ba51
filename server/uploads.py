"""How errors name an uploaded file: by the name the person chose, never by where the server keeps it."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

MAX_NAME = 120
DEFAULT_NAME = "uploaded package"


def upload_name(raw: str | None, default: str = DEFAULT_NAME) -> str:
    """The file name a client gave (its last path component, printable, at most 120 characters)."""
    if not raw:
        return default
    base = PurePosixPath(PureWindowsPath(raw).name).name
    printable = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    if len(printable) > MAX_NAME:
        printable = printable[: MAX_NAME - 1] + "…"
    return printable or default
