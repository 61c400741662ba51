"""Annotation shapes (0..1 of the picture) as SVG primitives in the picture's own pixels.

The report draws them server-side so that a printed report shows them; the arrowhead
geometry matches web/static/js/annotate.js.
"""

from __future__ import annotations

import math
from typing import Any

HEAD = 0.035  # arrowhead length, as a share of the picture's longer side
STROKE = 0.006
FONT = 0.045
DEFAULT_SIZE = (1600, 900)  # when the picture's size is not recorded


def stroke_width(width: int, height: int) -> float:
    return round(max(width, height) * STROKE, 2)


def arrowhead(x1: float, y1: float, x2: float, y2: float, length: float) -> str:
    """The points of a filled arrowhead at (x2, y2), pointing away from (x1, y1)."""
    angle = math.atan2(y2 - y1, x2 - x1)
    spread = math.pi / 7
    corners = [
        (x2, y2),
        (x2 - length * math.cos(angle - spread), y2 - length * math.sin(angle - spread)),
        (x2 - length * math.cos(angle + spread), y2 - length * math.sin(angle + spread)),
    ]
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)


def primitive(shape: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """One shape scaled to pixels; arrows carry their head's polygon."""
    kind, color = shape["type"], shape.get("color", "#ff3b30")
    if kind == "circle":
        r = shape["r"] * max(width, height)
        return {"kind": kind, "color": color, "x": shape["x"] * width, "y": shape["y"] * height, "r": r}
    if kind == "text":
        x, y = shape["x"] * width, shape["y"] * height
        return {"kind": kind, "color": color, "x": x, "y": y, "text": shape["text"]}
    x1, y1, x2, y2 = shape["x1"] * width, shape["y1"] * height, shape["x2"] * width, shape["y2"] * height
    if kind == "rect":
        return {
            "kind": kind,
            "color": color,
            "x": min(x1, x2),
            "y": min(y1, y2),
            "w": abs(x2 - x1),
            "h": abs(y2 - y1),
        }
    head = arrowhead(x1, y1, x2, y2, max(width, height) * HEAD)
    return {"kind": "arrow", "color": color, "x1": x1, "y1": y1, "x2": x2, "y2": y2, "head": head}


def overlay(shapes: list[dict[str, Any]], width: int | None, height: int | None) -> dict[str, Any]:
    """What the template needs to draw an overlay over a picture of the given size."""
    w, h = (width, height) if width and height else DEFAULT_SIZE
    return {
        "width": w,
        "height": h,
        "stroke": stroke_width(w, h),
        "font": round(h * FONT, 1),
        "shapes": [primitive(shape, w, h) for shape in shapes],
    }
