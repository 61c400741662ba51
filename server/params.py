"""Whole numbers from query strings, path segments and headers, parsed strictly.

``str.isdigit`` accepts ``²`` and ``¹`` (which ``int`` then refuses) and Python ints have
no bound (which SQLite then refuses): both used to end in a 500. Only ASCII digits in a
stated range pass here.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from server.errors import ApiError

DB_INT_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def strict_int(raw: str, low: int = 0, high: int = DB_INT_MAX) -> int | None:
    """``raw`` as an int if it is ASCII digits within ``low..high``, else None."""
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """A query parameter as a whole number in ``low..high``; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = strict_int(raw, low, high)
    if value is None:
        raise ApiError(400, "invalid", f"'{name}' must be a whole number from {low} to {high}")
    return value


def path_int(request: Request, name: str, what: str) -> int:
    """A path segment as a whole number; anything else names nothing that exists (404)."""
    value = strict_int(str(request.path_params[name]), 0, 2**31 - 1)
    if value is None:
        raise ApiError(404, "not_found", f"no such {what}")
    return value


def declared_length(request: Request) -> int | None:
    """The Content-Length header when it is a plain number, else None (the body is measured)."""
    raw = request.headers.get("content-length")
    return None if raw is None else strict_int(raw.strip())
