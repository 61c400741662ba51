"""JSON from clients, parsed only after a cheap check that it is not nested too deeply.

``json.loads`` recurses once per level of nesting: 64 KiB of ``[`` would end in a
``RecursionError`` deep in the parser. Counting brackets first (outside strings) costs
a couple of C-speed passes over the text and refuses such input with a plain error.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
# Opening brackets become +1, closing ones -1 (as signed bytes).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class JsonError(ValueError):
    """The text is not JSON this server accepts; the message says why."""


def nesting_depth(data: bytes) -> int:
    """The deepest bracket nesting of ``data``, ignoring brackets inside strings."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", data))
    steps = array("b", brackets.translate(_STEPS))
    return max(accumulate(steps), default=0)


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text, refusing nesting deeper than ``max_depth`` before parsing it."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # Fewer opening brackets than the limit cannot nest deeper: most messages stop here.
    if data.count(b"[") + data.count(b"{") > max_depth and nesting_depth(data) > max_depth:
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # RecursionError: belt and braces
        raise JsonError(f"not valid JSON: {exc}") from exc
