"""A frame number drawn into the pixels, robust to lossy video coding.

Tests, the benchmark and the demo camera draw it; whoever receives the video reads it
back to prove which frame arrived, in which order, and how late.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BITS = 24
CELL = 16  # pixels per bit cell side; big enough to survive VP8 at modest bitrates
MARGIN = 8

Image = npt.NDArray[np.uint8]


def burn(image: Image, number: int) -> None:
    """Draw ``number`` (mod 2**24) as a row of black/white cells at the top-left corner."""
    number %= 1 << BITS
    row = image[MARGIN : MARGIN + CELL]
    for bit in range(BITS):
        value = 255 if (number >> (BITS - 1 - bit)) & 1 else 0
        x = MARGIN + bit * CELL
        row[:, x : x + CELL] = value


def read(image: Image) -> int:
    """Read back a number drawn by :func:`burn` (the image may be grey or BGR)."""
    grey = image if image.ndim == 2 else image.mean(axis=2)
    number = 0
    centre = MARGIN + CELL // 2
    for bit in range(BITS):
        x = MARGIN + bit * CELL + CELL // 2
        patch = grey[centre - 3 : centre + 3, x - 3 : x + 3]
        number = (number << 1) | int(patch.mean() > 127)
    return number


def min_width() -> int:
    return 2 * MARGIN + BITS * CELL
