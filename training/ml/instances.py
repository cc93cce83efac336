"""Instance separation for countable classes: components, then a distance-transform watershed.

Markers are the h-maxima of the distance transform rather than peaks at least `min_distance`
apart: a fixed peak distance over-split elongated nuclei (object F1 0.73 against 0.96 on
bbbc039's own masks), while the h-maxima need no guess of the object size.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import h_maxima
from skimage.segmentation import relabel_sequential, watershed


def separate_instances(mask: np.ndarray, *, min_size: int = 8, h: float = 1.0) -> np.ndarray:
    """Split a binary mask into objects, cutting touching ones apart at their narrowest point.

    A bump of the (lightly smoothed) distance transform counts as its own object only if it
    rises `h` pixels above the neck joining it to its neighbour. A component with no such bump
    (thin or tiny) stays one object. Objects smaller than `min_size` pixels are dropped.

    Shape: mask (H, W) bool or 0/1 -> (H, W) int32, 0 = background, 1..N = objects.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"separate_instances takes one (H, W) mask, got {mask.shape}; loop over images")
    if h <= 0:
        raise ValueError(f"h must be positive (pixels of depth between two objects), got {h}")
    components, count = ndimage.label(mask)
    if count == 0:
        return np.zeros(mask.shape, dtype=np.int32)
    distance = ndimage.distance_transform_edt(mask)
    markers, found = ndimage.label(h_maxima(ndimage.gaussian_filter(distance, 1.0), h) & mask)
    markers = _mark_unmarked(markers, found, components, count)
    labels = watershed(-distance, markers, mask=mask)
    keep = np.bincount(labels.ravel()) >= min_size
    keep[0] = False
    labels[~keep[labels]] = 0
    relabelled, _, _ = relabel_sequential(labels)
    return relabelled.astype(np.int32)


def _mark_unmarked(markers: np.ndarray, found: int, components: np.ndarray, count: int) -> np.ndarray:
    """Gives every component without a marker one marker covering all of it.

    Shape: markers, components (H, W) int -> (H, W) int, markers numbered 1..found+unmarked.
    """
    marked = np.zeros(count + 1, dtype=bool)
    marked[components[markers > 0]] = True
    unmarked = np.flatnonzero(~marked[1:]) + 1
    lookup = np.zeros(count + 1, dtype=markers.dtype)
    lookup[unmarked] = np.arange(found + 1, found + 1 + len(unmarked))
    return np.where(markers > 0, markers, lookup[components])
