"""Simulated scribbles: what a person paints in a minute, made from a ground-truth mask.

Benchmarks use them to measure "scribbles vs dense" without a person: a stroke along the
skeleton of each object, kept off its boundary, and a few straight strokes through the
background, kept off the objects, all within a budget of labelled pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk, skeletonize

UNKNOWN = -1
BACKGROUND_MARGIN = 3  # pixels between a background stroke and the nearest object
MAX_BACKGROUND_STROKES = 64

Stroke = tuple[int, np.ndarray]  # class id, flat pixel indices ordered from the stroke's start


def simulate_scribbles(
    class_map: np.ndarray,
    *,
    budget: float = 0.05,
    seed: int = 0,
    background: int = 0,
    instances: np.ndarray | None = None,
    radius: int = 1,
) -> np.ndarray:
    """Scribbles covering at most `budget` of the pixels, each inside its true class.

    Objects are the instances where given (non-background pixels outside every instance become
    connected components of their class), else the connected components of each non-background
    class. Objects get up to half the budget, whole strokes in a seeded random order, so a tight
    budget scribbles a random subset of them; the background gets about as many pixels as the
    objects got (at least a tenth of the budget), as a person balances the two. When both exist
    and the budget allows two pixels, both get labels. The same seed gives the same scribbles.

    Shape: class_map (H, W) int, instances (H, W) int or None -> (H, W) int64, -1 = unknown.
    """
    _check_inputs(class_map, budget, instances, radius)
    rng = np.random.default_rng(seed)
    out = np.full(class_map.shape, UNKNOWN, dtype=np.int64)
    limit = int(budget * class_map.size)
    strokes = _object_strokes(class_map, background, instances, radius)
    free = class_map == background
    has_background = bool(free.any())
    share = limit - limit // 2 if has_background else limit
    used = _paint_objects(out, strokes, share, rng)
    if has_background:
        allowance = min(limit - used, max(used, limit // 10)) if strokes else limit
        _paint_background(out, free, background, allowance, rng, radius)
    return out


def _check_inputs(class_map: np.ndarray, budget: float, instances: np.ndarray | None, radius: int) -> None:
    if class_map.ndim != 2:
        raise ValueError(f"class_map must be one (H, W) map, got shape {class_map.shape}; loop over images")
    if class_map.size and int(class_map.min()) < 0:
        raise ValueError("class_map must be complete ground truth: class ids >= 0, no -1 (unknown)")
    if not 0 <= budget <= 1:
        raise ValueError(f"budget is a fraction of the pixels in [0, 1] (0.05 = 5%), got {budget}")
    if instances is not None and instances.shape != class_map.shape:
        raise ValueError(f"instances {instances.shape} must have the class map's shape {class_map.shape}")
    if radius < 1:
        raise ValueError(f"radius is the stroke's half-width in pixels, at least 1, got {radius}")


def _paint_objects(out: np.ndarray, strokes: list[Stroke], share: int, rng: np.random.Generator) -> int:
    """Paints whole strokes in random order while they fit; returns the pixels painted.

    If not even one whole stroke fits, the first stroke is cut to the share, so objects still
    get a label under a tiny budget.
    """
    used = 0
    flat = out.reshape(-1)
    order = rng.permutation(len(strokes))
    for class_id, pixels in (strokes[i] for i in order):
        if used + len(pixels) <= share:
            flat[pixels] = class_id
            used += len(pixels)
    if used == 0 and strokes and share > 0:
        class_id, pixels = strokes[order[0]]
        flat[pixels[:share]] = class_id
        used = min(share, len(pixels))
    return used


def _object_strokes(
    class_map: np.ndarray, background: int, instances: np.ndarray | None, radius: int
) -> list[Stroke]:
    """One stroke per object: its skeleton, thickened by `radius` but kept one pixel inside it."""
    objects = _objects(class_map, background, instances)
    width = class_map.shape[1]
    strokes = []
    for index, found in enumerate(ndimage.find_objects(objects), start=1):
        if found is None:
            continue
        box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in found)
        region = objects[box] == index
        class_id = int(np.bincount(class_map[box][region]).argmax())
        if class_id == background:
            continue
        region &= class_map[box] == class_id
        stroke = _skeleton_stroke(region, radius)
        if stroke is None:
            continue
        ys, xs = stroke
        strokes.append((class_id, (ys + box[0].start) * width + xs + box[1].start))
    return strokes


def _skeleton_stroke(region: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The thickened skeleton of a region, off its boundary when the region is wide enough.

    Shape: region (h, w) bool -> (ys, xs) of the stroke, ordered by distance from its start.
    """
    inner = ndimage.binary_erosion(region)
    if not inner.any():
        inner = region  # thinner than three pixels: a stroke on the object beats none
    if not inner.any():
        return None
    skeleton = skeletonize(inner)
    stroke = ndimage.binary_dilation(skeleton, disk(radius)) & inner
    ys, xs = np.nonzero(stroke)
    start_y, start_x = np.argwhere(skeleton)[0]
    order = np.argsort((ys - start_y) ** 2 + (xs - start_x) ** 2, kind="stable")
    return ys[order], xs[order]


def _objects(class_map: np.ndarray, background: int, instances: np.ndarray | None) -> np.ndarray:
    """Object labels: the instances, then components of the non-background pixels they miss.

    Shape: (H, W) -> (H, W) int64, 0 = no object.
    """
    objects = np.zeros(class_map.shape, dtype=np.int64)
    if instances is not None:
        objects[instances > 0] = instances[instances > 0]
    uncovered = (objects == 0) & (class_map != background)
    for class_id in np.unique(class_map[uncovered]):
        labels, _ = ndimage.label(uncovered & (class_map == class_id))
        objects[labels > 0] = labels[labels > 0] + objects.max()
    return objects


def _paint_background(
    out: np.ndarray, free: np.ndarray, background: int, allowance: int, rng: np.random.Generator, radius: int
) -> None:
    """Straight strokes through the background, kept a few pixels away from objects."""
    if allowance <= 0:
        return
    safe = _safe_background(free, BACKGROUND_MARGIN + radius)
    candidates = np.flatnonzero(safe)
    height, width = free.shape
    flat = out.reshape(-1)
    painted = 0
    for _ in range(MAX_BACKGROUND_STROKES):
        if painted >= allowance:
            break
        y0, x0 = divmod(int(candidates[rng.integers(len(candidates))]), width)
        angle = rng.uniform(0, 2 * np.pi)
        length = max(8.0, rng.uniform(0.1, 0.3) * (height + width) / 2)
        y1 = int(np.clip(round(y0 + length * np.sin(angle)), 0, height - 1))
        x1 = int(np.clip(round(x0 + length * np.cos(angle)), 0, width - 1))
        pixels = _thick_line(safe, (y0, x0), (y1, x1), radius)
        pixels = pixels[flat[pixels] == UNKNOWN][: allowance - painted]
        flat[pixels] = background
        painted += len(pixels)


def _safe_background(free: np.ndarray, margin: int) -> np.ndarray:
    """The background eroded by `margin`, or by less where that would leave nothing."""
    for depth in (margin, 1):
        safe = ndimage.binary_erosion(free, iterations=depth, border_value=1)
        if safe.any():
            return safe
    return free


def _thick_line(safe: np.ndarray, start: tuple[int, int], end: tuple[int, int], radius: int) -> np.ndarray:
    """Flat indices of a line thickened by `radius`, inside `safe`, ordered from the start.

    Works in the line's bounding box, so a stroke costs its own size, not the image's.
    """
    ys, xs = line(*start, *end)
    inside = safe[ys, xs]
    ys, xs = ys[inside], xs[inside]
    top, left = max(int(ys.min()) - radius, 0), max(int(xs.min()) - radius, 0)
    bottom = min(int(ys.max()) + radius + 1, safe.shape[0])
    right = min(int(xs.max()) + radius + 1, safe.shape[1])
    box = np.zeros((bottom - top, right - left), dtype=bool)
    box[ys - top, xs - left] = True
    box = ndimage.binary_dilation(box, disk(radius)) & safe[top:bottom, left:right]
    by, bx = np.nonzero(box)
    by, bx = by + top, bx + left
    order = np.argsort((by - start[0]) ** 2 + (bx - start[1]) ** 2, kind="stable")
    return (by * safe.shape[1] + bx)[order]
