"""Admission of phone photos: a rate per invite, the header's size before any decoding, few decodes at once.

Every check here comes before the cost it guards: the rate before the body is read, the
declared pixels (:func:`server.images.probe`) before a decoder allocates them, and a
slot (at most ``DECODE_SLOTS`` pictures decode at once) before the decoder runs. OpenCV's
own pixel limit (``guard_image_decoder``) stands behind the header check.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections.abc import Callable

import cv2
import numpy as np

from server.errors import ApiError
from server.images import ImageError, ImageInfo, probe
from server.ratelimit import RateLimiter
from server.settings import Settings

DECODE_SLOTS = 2
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STATUS = {
    "unsupported": (415, "unsupported_image"),
    "unknown": (422, "not_an_image"),
    "damaged": (422, "damaged_image"),
}


class PhotoIntake:
    """The per-app state of photo uploads: who may upload now, and how many decode at once."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_pixels, self.max_side = settings.photo_max_pixels, settings.photo_max_side
        self.limiter = RateLimiter(settings.photo_burst, settings.photo_interval, clock)
        self.decodes = asyncio.Semaphore(DECODE_SLOTS)

    def admit(self, invite_id: str) -> None:
        """Spend one upload of this invite's allowance; raises a 429 with Retry-After when it is spent."""
        wait = self.limiter.take(invite_id)
        if wait > 0:
            seconds = math.ceil(wait)
            raise ApiError(
                429,
                "rate_limited",
                f"too many photos from this invite: try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    def inspect(self, data: bytes) -> ImageInfo:
        """The picture's format and size from its header, refused when it declares too much."""
        try:
            info = probe(data)
        except ImageError as exc:
            status, code = _STATUS[exc.reason]
            raise ApiError(status, code, exc.message) from exc
        if info.width > self.max_side or info.height > self.max_side or info.pixels > self.max_pixels:
            raise ApiError(
                413,
                "too_many_pixels",
                f"the picture declares {info.width}×{info.height} pixels; photos are limited to "
                f"{self.max_pixels / 1e6:g} megapixels and {self.max_side} pixels a side",
            )
        return info

    async def check(self, data: bytes) -> ImageInfo:
        """:meth:`inspect`, then decode to prove the picture is whole (HEIC is kept as sent: no decoder)."""
        info = self.inspect(data)
        if info.format != "heif":
            async with self.decodes:
                await asyncio.to_thread(decode, data, info)
        return info


def decode(data: bytes, info: ImageInfo) -> None:
    """Decode at 1/8 scale (JPEG decodes at that scale, saving time and memory) to prove it is whole."""
    flags = cv2.IMREAD_REDUCED_GRAYSCALE_8 | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise ApiError(413, "too_many_pixels", "the picture is larger than this server decodes") from exc
    if image is None:
        raise ApiError(422, "damaged_image", "the picture is damaged and cannot be decoded")
    height, width = image.shape[:2]
    if abs(width - info.width / 8) > 1 or abs(height - info.height / 8) > 1:
        raise ApiError(422, "damaged_image", "the picture's data is not the size its header declares")


def claimed_sha256(raw: object) -> str | None:
    """The phone's SHA-256 of the photo (64 hex digits, either case), or None when it sent none."""
    if raw in (None, ""):
        return None
    value = str(raw).strip().lower()
    if not _SHA256.fullmatch(value):
        raise ApiError(422, "invalid", "'sha256' must be 64 hexadecimal digits")
    return value


async def check_sha256(data: bytes, claimed: str | None) -> str:
    """The SHA-256 of the bytes that arrived (hashed in a thread); refused when the phone's differs.

    The phone hashed the exact bytes it stored and sent: a difference means they changed on
    the way or in the page's storage, so the photo is not taken as evidence.
    """
    actual = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    if claimed is not None and claimed != actual:
        raise ApiError(
            422,
            "hash_mismatch",
            f"the photo's bytes have SHA-256 {actual} here but {claimed} on the phone: "
            "they changed on the way; send the photo again",
            details={"received_sha256": actual, "device_sha256": claimed},
        )
    return actual
