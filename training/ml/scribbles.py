"""Simulated scribbles: what a person paints in a minute, made from a ground-truth mask.

Benchmarks use them to measure "scribbles vs dense" without a person: a stroke along the
skeleton of each object, kept off its boundary, and a few strokes through the background, within
a budget of labelled pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk, skeletonize

UNKNOWN = -1


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

    Shape: class_map (H, W) int -> (H, W) int64 with -1 unknown and class ids on scribbles.
    """
    rng = np.random.default_rng(seed)
    out = np.full(class_map.shape, UNKNOWN, dtype=np.int64)
    limit = int(budget * class_map.size)
    strokes = _object_strokes(class_map, background, instances, radius)
    order = rng.permutation(len(strokes))
    has_background = bool((class_map == background).any())
    foreground_limit = limit // 2 if has_background else limit
    used = 0
    for class_id, pixels in (strokes[i] for i in order):
        if used + len(pixels[0]) > foreground_limit:
            continue
        out[pixels] = class_id
        used += len(pixels[0])
    if has_background:
        _background_strokes(out, class_map == background, background, limit - used, rng, radius)
    return out


def _object_strokes(
    class_map: np.ndarray, background: int, instances: np.ndarray | None, radius: int
) -> list[tuple[int, tuple[np.ndarray, np.ndarray]]]:
    """One stroke per object: its skeleton, thickened by `radius` but kept one pixel inside it."""
    objects = instances if instances is not None else _components(class_map, background)
    strokes = []
    for index, found in enumerate(ndimage.find_objects(objects), start=1):
        if found is None:
            continue
        box = tuple(slice(max(s.start - 2, 0), s.stop + 2) for s in found)
        region = objects[box] == index
        inner = ndimage.binary_erosion(region)
        if not inner.any():
            continue
        stroke = ndimage.binary_dilation(skeletonize(inner), disk(radius)) & inner
        ys, xs = np.nonzero(stroke)
        class_id = int(np.bincount(class_map[box][region]).argmax())
        strokes.append((class_id, (ys + box[0].start, xs + box[1].start)))
    return strokes


def _components(class_map: np.ndarray, background: int) -> np.ndarray:
    objects = np.zeros(class_map.shape, dtype=np.int32)
    for class_id in np.unique(class_map):
        if class_id == background:
            continue
        labels, _ = ndimage.label(class_map == class_id)
        objects[labels > 0] = labels[labels > 0] + objects.max()
    return objects


def _background_strokes(
    out: np.ndarray, free: np.ndarray, background: int, allowance: int, rng: np.random.Generator, radius: int
) -> None:
    """Straight strokes through the background, kept a few pixels away from objects."""
    safe = ndimage.binary_erosion(free, iterations=3 + radius, border_value=1)
    if not safe.any() or allowance <= 0:
        return
    height, width = free.shape
    candidates = np.flatnonzero(safe)
    painted = 0
    for _ in range(200):
        start = candidates[int(rng.integers(len(candidates)))]
        y0, x0 = divmod(int(start), width)
        angle, length = rng.uniform(0, np.pi), rng.uniform(10, 40)
        y1 = int(np.clip(y0 + length * np.sin(angle), 0, height - 1))
        x1 = int(np.clip(x0 + length * np.cos(angle), 0, width - 1))
        ys, xs = line(y0, x0, y1, x1)
        inside = safe[ys, xs]
        stroke = np.zeros_like(safe)
        stroke[ys[inside], xs[inside]] = True
        stroke = ndimage.binary_dilation(stroke, disk(radius)) & safe & (out == UNKNOWN)
        size = int(stroke.sum())
        if painted + size > allowance:
            break
        out[stroke] = background
        painted += size
