"""Stills: the JPEG is the picture, its digest is right, blur scores lower, one per interval."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from recorder import Still, StillError, StillSampler, encode_still, pick_sharpest, sharpness
from recorder.stills import Image
from server.media import framecode
from server.simcam import scene


@pytest.fixture(scope="module")
def picture() -> Image:
    return scene(1280, 720, 1234)


def blur(image: Image, sigma: float) -> Image:
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), dtype=np.uint8)


def test_jpeg_decodes_to_the_same_picture(picture: Image) -> None:
    still = encode_still(picture)

    decoded = cv2.imdecode(np.frombuffer(still.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == picture.shape
    assert (still.width, still.height) == (1280, 720)
    assert framecode.read(np.asarray(decoded, dtype=np.uint8)) == 1234
    assert still.sha256 == hashlib.sha256(still.jpeg).hexdigest()
    assert still.sharpness == sharpness(picture)


def test_quality_trades_size(picture: Image) -> None:
    assert len(encode_still(picture, quality=50).jpeg) < len(encode_still(picture, quality=95).jpeg)
    with pytest.raises(ValueError):
        encode_still(picture, quality=0)


def test_blur_scores_lower(picture: Image) -> None:
    slightly = blur(picture, 1.5)
    badly = blur(picture, 6)

    assert sharpness(picture) > sharpness(slightly) > sharpness(badly)


def test_pick_sharpest_prefers_the_focused_frame(picture: Image) -> None:
    burst = [blur(picture, 3), picture, blur(picture, 1)]

    assert pick_sharpest(burst, key=sharpness) is burst[1]
    stills = [encode_still(p) for p in burst]
    best: Still = pick_sharpest(stills, key=lambda s: s.sharpness)
    assert best is stills[1]
    with pytest.raises(ValueError):
        pick_sharpest([], key=sharpness)


def test_not_a_bgr_picture_is_refused() -> None:
    with pytest.raises(StillError):
        encode_still(np.zeros((10, 10), np.uint8))
    with pytest.raises(StillError):
        sharpness(np.zeros((10, 10, 3), np.float32))


def test_sampler_gives_one_still_per_interval() -> None:
    sampler = StillSampler(1.0)
    t0 = 1_700_000_000 * 10**9
    arrivals = [t0 + n * 10**9 // 30 for n in range(150)]  # 5 s at 30 fps

    due = [n for n, t in enumerate(arrivals) if sampler.due(t)]

    assert due == [0, 30, 60, 90, 120]


def test_sampler_skips_slots_without_frames_and_keeps_its_grid() -> None:
    sampler = StillSampler(1.0)
    t0 = 10**18
    s = 10**9

    assert sampler.due(t0)
    assert not sampler.due(t0 + s // 2)
    assert sampler.due(t0 + 3 * s + s // 2)  # video stalled for 3 s: one still, not three
    assert not sampler.due(t0 + 3 * s + 900_000_000)
    assert sampler.due(t0 + 4 * s)  # still on the grid of the first frame


def test_sampler_restarts_when_the_clock_goes_back() -> None:
    sampler = StillSampler(2.0)
    t0 = 10**18

    assert sampler.due(t0)
    assert sampler.due(t0 - 60 * 10**9)
    assert not sampler.due(t0 - 59 * 10**9)
    sampler.reset()
    assert sampler.due(t0 - 59 * 10**9)
