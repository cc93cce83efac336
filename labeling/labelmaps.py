"""Label maps and brush strokes: validation, rasterisation and PNG coding. Pure, no Django.

A label map is a (height, width) uint16 array: 0 = unknown, v > 0 = the class with index v.
A stroke is a round brush dragged along a polyline; class_index 0 erases.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

import numpy as np
from PIL import Image as PILImage

from labeling.errors import InvalidInput

MAX_STROKE_POINTS = 10_000
MAX_RADIUS = 512.0


class LabelMapError(InvalidInput):
    pass


def empty_map(*, width: int, height: int) -> np.ndarray:
    return np.zeros((height, width), dtype=np.uint16)


def human_label_map(dense: np.ndarray | None, scribble: np.ndarray | None) -> np.ndarray | None:
    """A person's label of each pixel: the scribble layer's value where it says something (non-zero),
    else the dense mask's; 0 is unlabelled. None when there is neither layer.

    The one rule for training, the instant preview and the annotator (frontend/src/annotator,
    checked against the same cases: tests/cases/human_label_map.json).

    Shape: (H, W) uint16 maps -> (H, W) uint16.
    """
    if dense is None or scribble is None:
        return scribble if dense is None else dense
    return np.where(scribble > 0, scribble, dense)


def decode_label_map(data: bytes, *, width: int, height: int, allowed: set[int]) -> np.ndarray:
    """A PNG label map of exactly (height, width) whose values are 0 or class indices."""
    array = decode_png_map(data, what="label map", size=(width, height))
    unknown = sorted(set(np.unique(array).tolist()) - allowed - {0})
    if unknown:
        raise LabelMapError(
            f"the label map uses class indices {unknown[:10]} that this project does not have "
            f"(it has {sorted(allowed)}; 0 means unknown)"
        )
    return array


def decode_instance_map(data: bytes, *, width: int, height: int) -> np.ndarray:
    return decode_png_map(data, what="instance map", size=(width, height))


def decode_png_map(data: bytes, *, what: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """The values of a single-channel PNG; with `size` (width, height), the size its header
    declares must be that, checked before a pixel is decoded (a small PNG can declare a huge map).
    """
    try:
        image = PILImage.open(io.BytesIO(data))
    except Exception as error:
        raise LabelMapError(f"the {what} is not a readable PNG ({error})") from None
    if image.format != "PNG":
        raise LabelMapError(f"the {what} must be a PNG file")
    if size is not None and image.size != size:
        raise LabelMapError(
            f"the {what} is {image.width}x{image.height} but the image is "
            f"{size[0]}x{size[1]}; send a map of the image's size"
        )
    if image.mode not in ("L", "P", "1") and not image.mode.startswith("I"):
        raise LabelMapError(f"the {what} must be a single-channel PNG (it is {image.mode})")
    try:
        image.load()
    except Exception as error:
        raise LabelMapError(f"the {what} is not a readable PNG ({error})") from None
    if image.mode in ("L", "P", "1"):
        return np.asarray(image).astype(np.uint16)
    array = np.asarray(image)
    if array.min() < 0 or array.max() > 65535:
        raise LabelMapError(f"the {what} has values outside 0..65535")
    return array.astype(np.uint16)


def encode_map(array: np.ndarray) -> bytes:
    """PNG of a label or instance map: 8-bit when the values fit, else 16-bit."""
    buffer = io.BytesIO()
    if int(array.max(initial=0)) < 256:
        PILImage.fromarray(array.astype(np.uint8)).save(buffer, format="PNG")
    else:
        PILImage.fromarray(array.astype(np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def validate_strokes(
    raw: Any, *, width: int, height: int, allowed: set[int], max_strokes: int, max_paint_pixels: int
) -> list[dict[str, Any]]:
    """Normalised strokes, or LabelMapError naming the first thing wrong.

    Each stroke is checked alone, then the save in total: at most `max_strokes` strokes, and at
    most `max_paint_pixels` pixels for the rasteriser to visit (paint_cost), since every read of
    the layer replays them.
    """
    if not isinstance(raw, list):
        raise LabelMapError("strokes must be a list")
    if len(raw) > max_strokes:
        raise LabelMapError(f"at most {max_strokes} strokes per save (STROKES_MAX_PER_SAVE); save in parts")
    strokes = [_validate_stroke(s, n, width, height, allowed) for n, s in enumerate(raw)]
    cost = paint_cost(strokes, width=width, height=height)
    if cost > max_paint_pixels:
        raise LabelMapError(
            f"these strokes paint over {cost} pixels (each segment's box, counted once per stroke), "
            f"more than one save may ({max_paint_pixels}, STROKES_MAX_PAINT_PIXELS); save fewer or "
            "smaller strokes at a time, or upload a dense mask"
        )
    return strokes


def paint_cost(strokes: Iterable[dict[str, Any]], *, width: int, height: int) -> int:
    """How many pixels rasterize_strokes visits for these strokes: the sum of the boxes of their
    segments, clipped to the image. What replaying them costs on every read."""
    total = 0
    for stroke in strokes:
        radius = float(stroke["radius"])
        for (x0, y0), (x1, y1) in _segments(stroke["points"]):
            left, right, top, bottom = _segment_box(x0, y0, x1, y1, radius, width, height)
            total += max(0, right - left) * max(0, bottom - top)
    return total


def _segments(points: list[list[float]]) -> Iterable[tuple[list[float], list[float]]]:
    return pairwise(points) if len(points) > 1 else [(points[0], points[0])]


def _segment_box(
    x0: float, y0: float, x1: float, y1: float, radius: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) of the pixels a segment may cover, clipped to the image."""
    left = max(0, math.floor(min(x0, x1) - radius))
    right = min(width, math.ceil(max(x0, x1) + radius) + 1)
    top = max(0, math.floor(min(y0, y1) - radius))
    bottom = min(height, math.ceil(max(y0, y1) + radius) + 1)
    return left, right, top, bottom


def _validate_stroke(stroke: Any, n: int, width: int, height: int, allowed: set[int]) -> dict[str, Any]:
    if not isinstance(stroke, dict):
        raise LabelMapError(f"stroke {n} must be an object")
    class_index = stroke.get("class_index")
    if not isinstance(class_index, int) or isinstance(class_index, bool):
        raise LabelMapError(f"stroke {n}: class_index must be an integer")
    if class_index != 0 and class_index not in allowed:
        raise LabelMapError(
            f"stroke {n}: class index {class_index} does not exist in this project "
            f"(it has {sorted(allowed)}; 0 erases)"
        )
    radius = stroke.get("radius")
    if not isinstance(radius, (int, float)) or not 0.5 <= float(radius) <= MAX_RADIUS:
        raise LabelMapError(f"stroke {n}: radius must be a number from 0.5 to {MAX_RADIUS}")
    points = stroke.get("points")
    if not isinstance(points, list) or not 1 <= len(points) <= MAX_STROKE_POINTS:
        raise LabelMapError(f"stroke {n}: points must be a list of 1 to {MAX_STROKE_POINTS} [x, y]")
    clean: list[list[float]] = []
    for point in points:
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in point)
        ):
            raise LabelMapError(f"stroke {n}: every point must be [x, y] with finite numbers")
        x, y = float(point[0]), float(point[1])
        if not (-radius <= x <= width + radius and -radius <= y <= height + radius):
            raise LabelMapError(f"stroke {n}: point ({x}, {y}) lies outside the {width}x{height} image")
        clean.append([x, y])
    return {"class_index": class_index, "radius": float(radius), "points": clean}


def rasterize_strokes(label_map: np.ndarray, strokes: Iterable[dict[str, Any]]) -> None:
    """Paint strokes onto label_map in place, in order; later strokes win.

    A pixel is covered when its centre lies within `radius` of the stroke's polyline, so a stroke
    of one point paints a disc.
    """
    height, width = label_map.shape
    for stroke in strokes:
        radius = float(stroke["radius"])
        value = int(stroke["class_index"])
        for (x0, y0), (x1, y1) in _segments(stroke["points"]):
            _paint_segment(label_map, x0, y0, x1, y1, radius, value, width, height)


def _paint_segment(
    label_map: np.ndarray,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    radius: float,
    value: int,
    width: int,
    height: int,
) -> None:
    left, right, top, bottom = _segment_box(x0, y0, x1, y1, radius, width, height)
    if left >= right or top >= bottom:
        return
    ys, xs = np.mgrid[top:bottom, left:right]
    px, py = xs + 0.5, ys + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    if length2 == 0:
        t = np.zeros_like(px, dtype=np.float64)
    else:
        t = np.clip(((px - x0) * dx + (py - y0) * dy) / length2, 0.0, 1.0)
    distance2 = (px - (x0 + t * dx)) ** 2 + (py - (y0 + t * dy)) ** 2
    label_map[top:bottom, left:right][distance2 <= radius * radius] = value
