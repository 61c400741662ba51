"""Still images for the evidence record: JPEG encoding, a sharpness score, periodic sampling.

The functions here are CPU-bound (a few milliseconds per 720p picture) and hold no state:
call them from worker threads, several at once if need be. :class:`StillSampler` is
pure bookkeeping, cheap enough for the event loop, and safe to share between threads.

Sharpness is the variance of the Laplacian of a greyscale copy scaled down (area
interpolation) to at most :data:`SHARPNESS_WIDTH` pixels wide. The scaling makes the
score depend on the scene rather than on the resolution the phone happened to send, and
bounds its cost. Higher is sharper; scores are comparable between frames of one scene
(picking the best of a burst), not across scenes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
T = TypeVar("T")

SHARPNESS_WIDTH = 640
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Still:
    """A JPEG-encoded picture with what the evidence record states about it."""

    jpeg: bytes
    width: int
    height: int
    sha256: str  # hex digest of ``jpeg``
    sharpness: float


class StillError(Exception):
    """A picture could not be turned into a still."""


def _check_bgr(image: Image) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise StillError(f"expected a non-empty uint8 HxWx3 BGR image, got {image.dtype} {image.shape}")


def sharpness(image_bgr: Image) -> float:
    """Variance of the Laplacian on a greyscale copy at most 640 px wide (higher is sharper)."""
    _check_bgr(image_bgr)
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape
    if width > SHARPNESS_WIDTH:
        size = (SHARPNESS_WIDTH, max(1, round(height * SHARPNESS_WIDTH / width)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def encode_still(image_bgr: Image, quality: int = 85) -> Still:
    """Encode a BGR picture as a baseline JPEG at ``quality`` (1-100) and score its sharpness."""
    _check_bgr(image_bgr)
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, got {quality}")
    ok, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StillError("JPEG encoding failed")
    jpeg = encoded.tobytes()
    height, width = image_bgr.shape[:2]
    return Still(
        jpeg=jpeg,
        width=int(width),
        height=int(height),
        sha256=hashlib.sha256(jpeg).hexdigest(),
        sharpness=sharpness(image_bgr),
    )


def pick_sharpest(candidates: Iterable[T], key: Callable[[T], float]) -> T:
    """The candidate with the highest ``key`` score (the earliest of equals).

    ``pick_sharpest(pictures, key=sharpness)`` chooses among decoded pictures before
    encoding one; ``pick_sharpest(stills, key=lambda s: s.sharpness)`` among stills.
    """
    best: T | None = None
    best_score = 0.0
    for candidate in candidates:
        score = key(candidate)
        if best is None or score > best_score:
            best, best_score = candidate, score
    if best is None:
        raise ValueError("pick_sharpest() needs at least one candidate")
    return best


class StillSampler:
    """Says which frames become periodic stills: one per ``interval_s``, on a grid from the first.

    The first frame is due; after it, the first frame at or after each grid point
    ``first + k * interval``. Slots with no frame are skipped, not made up. If the clock
    goes back before the current slot, the grid restarts at that frame.
    """

    def __init__(self, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        self.interval_ns = round(interval_s * NS)
        self._next_ns: int | None = None
        self._lock = threading.Lock()

    def due(self, arrival_ns: int) -> bool:
        """Whether the frame that arrived at ``arrival_ns`` should become a still."""
        with self._lock:
            next_ns = self._next_ns
            if next_ns is None or arrival_ns < next_ns - self.interval_ns:
                self._next_ns = arrival_ns + self.interval_ns
                return True
            if arrival_ns < next_ns:
                return False
            missed = (arrival_ns - next_ns) // self.interval_ns
            self._next_ns = next_ns + (missed + 1) * self.interval_ns
            return True

    def reset(self) -> None:
        """Start a new grid at the next frame (e.g. the phone rejoined)."""
        with self._lock:
            self._next_ns = None
