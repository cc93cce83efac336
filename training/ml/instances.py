"""Instance separation for countable classes: components, then a distance-transform watershed.

Markers are the h-maxima of the distance transform rather than peaks at least `min_distance`
apart: a fixed peak distance over-split elongated nuclei (object F1 0.73 against 0.96 on
bbbc039's own masks), while the h-maxima need no guess of the object size.

Each connected component is split on its own, in a window around it: the distance transform and
the h-maxima over a whole 2304x2304 field took 12 s for 74 nuclei covering half a percent of it,
the windows take a fraction of a second. A component's split only depends on its own pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

SMOOTHING = 1.0  # sigma of the Gaussian over the distance transform
# Pixels of background kept around a component: the Gaussian's reach (4 sigma) and one more, so
# that the smoothed distance inside the window is what it would be over the whole image.
MARGIN = int(4 * SMOOTHING) + 1


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
    components, _ = ndimage.label(mask)
    labels = np.zeros(mask.shape, dtype=np.int32)
    next_label = 1
    for index, box in enumerate(ndimage.find_objects(components), start=1):
        if box is None:
            continue
        window = _widened(box, mask.shape)
        own = components[window] == index
        pieces, count = _split(own, h)
        sizes = np.bincount(pieces[own], minlength=count + 1)
        kept = np.flatnonzero(sizes >= min_size)
        kept = kept[kept > 0]
        lookup = np.zeros(count + 1, dtype=np.int32)
        lookup[kept] = np.arange(next_label, next_label + len(kept), dtype=np.int32)
        labels[window][own] = lookup[pieces[own]]
        next_label += len(kept)
    return labels


def _split(own: np.ndarray, h: float) -> tuple[np.ndarray, int]:
    """One component's objects: (labels 0..count within its window, count).

    Shape: own (h, w) bool, one connected component -> (h, w) int32.
    """
    distance = ndimage.distance_transform_edt(own)
    peaks = h_maxima(ndimage.gaussian_filter(distance, SMOOTHING), h).astype(bool) & own
    markers, found = ndimage.label(peaks)
    if found <= 1:  # no bump of its own, or one: the component is one object
        return own.astype(np.int32), 1
    return watershed(-distance, markers, mask=own).astype(np.int32), found


def _widened(box: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, slice]:
    """A component's bounding box with MARGIN pixels around it, inside the image."""
    rows, cols = box
    return (
        slice(max(rows.start - MARGIN, 0), min(rows.stop + MARGIN, shape[0])),
        slice(max(cols.start - MARGIN, 0), min(cols.stop + MARGIN, shape[1])),
    )
