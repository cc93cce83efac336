"""Instance separation for countable classes: components, then a distance-transform watershed."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.segmentation import relabel_sequential, watershed


def separate_instances(mask: np.ndarray, *, min_size: int = 8, min_distance: int = 3) -> np.ndarray:
    """Split a binary mask into objects, cutting touching ones apart at their narrowest point.

    Shape: (H, W) bool -> (H, W) int32, 0 = background, 1..N = objects (smaller than min_size
    pixels dropped).
    """
    mask = np.asarray(mask, dtype=bool)
    components, count = ndimage.label(mask)
    if count == 0:
        return np.zeros(mask.shape, dtype=np.int32)
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=components, exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    # A component without a peak (tiny or flat) still becomes one object.
    unmarked = np.setdiff1d(np.unique(components[mask]), np.unique(components[markers > 0]))
    for offset, component in enumerate(unmarked, start=len(peaks) + 1):
        markers[components == component] = offset
    labels = watershed(-distance, markers, mask=mask)
    sizes = np.bincount(labels.ravel())
    small = np.flatnonzero(sizes < min_size)
    labels[np.isin(labels, small[small > 0])] = 0
    relabelled, _, _ = relabel_sequential(labels)
    return relabelled.astype(np.int32)
