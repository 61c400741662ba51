"""Annotation shapes become SVG primitives in the picture's pixels, as the report draws them."""

from __future__ import annotations

import pytest

from server.annotation_svg import DEFAULT_SIZE, overlay


def test_shapes_scale_to_the_pictures_pixels() -> None:
    shapes = [
        {"type": "rect", "x1": 0.5, "y1": 0.5, "x2": 0.25, "y2": 0.1, "color": "#00ff00"},
        {"type": "text", "x": 0.1, "y": 0.2, "text": "Seal", "color": "#ff3b30"},
        {"type": "circle", "x": 0.5, "y": 0.5, "r": 0.1, "color": "#ff3b30"},
    ]
    drawn = overlay(shapes, 640, 360)
    assert (drawn["width"], drawn["height"]) == (640, 360)
    rect, text, circle = drawn["shapes"]
    assert (rect["x"], rect["y"], rect["w"], rect["h"]) == pytest.approx((160, 36, 160, 144))
    assert rect["color"] == "#00ff00"
    assert (text["x"], text["y"], text["text"]) == (64, 72, "Seal")
    assert circle["r"] == pytest.approx(64)  # of the longer side, as the console draws it


def test_an_arrow_has_its_head_at_the_end_it_points_to() -> None:
    arrow = overlay([{"type": "arrow", "x1": 0, "y1": 0.5, "x2": 1, "y2": 0.5}], 1000, 500)["shapes"][0]
    tip, *corners = [tuple(map(float, p.split(","))) for p in arrow["head"].split()]
    assert tip == (1000, 250)
    assert all(x < 1000 for x, _ in corners) and {y > 250 for _, y in corners} == {True, False}
    assert arrow["color"] == "#ff3b30"


def test_a_picture_of_unknown_size_gets_a_default_frame() -> None:
    assert (overlay([], None, None)["width"], overlay([], None, None)["height"]) == DEFAULT_SIZE
