"""Objects of a class map: instance maps of the countable classes, and what each object measures.

Pure numpy, SciPy and scikit-image, no Django: the prediction jobs, the `predict` command and the
benchmark all call these. Coordinates are in pixels with x along columns and y along rows; a
bounding box's max is exclusive (numpy slicing). Intensities are the original pixel values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.measure import regionprops_table

from training.ml.instances import separate_instances

SHAPE_COLUMNS = (
    "label",  # the object's value in the instance map
    "class_index",
    "class",
    "centroid_x",
    "centroid_y",
    "bbox_min_x",
    "bbox_min_y",
    "bbox_max_x",
    "bbox_max_y",
    "area_px",
    "area_um2",  # empty without the image's pixel size
    "perimeter_px",
    "eccentricity",
    "solidity",
)
DECIMALS = 4


@dataclass(frozen=True)
class Objects:
    """The objects of an image and the class of each.

    Shape: instances (H, W) uint32, 0 = no object, 1..N; classes (N + 1,) int64, classes[0] = 0.
    """

    instances: np.ndarray
    classes: np.ndarray
    counts: dict[int, int]  # class index -> objects, every countable class (0 if none)

    @property
    def count(self) -> int:
        return len(self.classes) - 1


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Any]]


def count_objects(
    label_map: np.ndarray, countable: Iterable[int], *, min_size: int = 8, h: float = 1.0
) -> Objects:
    """Each countable class's pixels split into touching-apart objects, numbered class by class.

    Shape: label_map (H, W) int, values are class indices -> Objects of the same (H, W).
    """
    instances = np.zeros(label_map.shape, dtype=np.uint32)
    classes = [0]
    counts = {}
    for index in sorted(set(countable)):
        labels = separate_instances(label_map == index, min_size=min_size, h=h)
        found = int(labels.max(initial=0))
        counts[index] = found
        if found:
            inside = labels > 0
            instances[inside] = labels[inside].astype(np.uint32) + (len(classes) - 1)
            classes.extend([index] * found)
    return Objects(instances, np.asarray(classes, dtype=np.int64), counts)


def objects_of_instances(instances: np.ndarray, label_map: np.ndarray, countable: Iterable[int]) -> Objects:
    """Objects from a stored instance map (a dense mask imported with its instances): each object
    takes the class most of its pixels have, and only objects of countable classes are kept,
    renumbered 1..N.

    Shape: instances, label_map (H, W) int -> Objects of the same (H, W).
    """
    wanted = sorted(set(countable))
    ids = np.unique(instances[instances > 0])
    majority = _majority_class(instances, label_map, ids)
    keep = np.isin(majority, wanted)
    lookup = np.zeros(int(instances.max(initial=0)) + 1, dtype=np.uint32)
    lookup[ids[keep]] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
    kept_classes = majority[keep]
    counts = {index: int((kept_classes == index).sum()) for index in wanted}
    return Objects(lookup[instances], np.concatenate([[0], kept_classes]).astype(np.int64), counts)


def _majority_class(instances: np.ndarray, label_map: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The most frequent class under each object. Shape: ids (N,) -> (N,) int64."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    inside = instances > 0
    pairs = np.stack([instances[inside].astype(np.int64), label_map[inside].astype(np.int64)])
    (objects, classes), votes = np.unique(pairs, axis=1, return_counts=True)
    order = np.lexsort((-votes, objects))  # per object, the most votes first
    first = np.unique(objects[order], return_index=True)[1]
    best = dict(zip(objects[order][first].tolist(), classes[order][first].tolist(), strict=True))
    return np.asarray([best[int(pk)] for pk in ids], dtype=np.int64)


def measure(
    objects: Objects,
    planes: Mapping[str, np.ndarray],
    *,
    class_names: Mapping[int, str],
    pixel_size: tuple[float, float] | None = None,
) -> Table:
    """One row per object: shape (regionprops_table) and, per channel, mean and integrated intensity.

    `pixel_size` is micrometres per pixel along (x, y); without it area_um2 is None.
    Shape: planes {name: (H, W)} of the instances' (H, W).
    """
    columns = [*SHAPE_COLUMNS]
    for name in planes:
        columns += [f"mean_intensity_{name}", f"integrated_intensity_{name}"]
    if objects.count == 0:
        return Table(columns, [])
    shape = regionprops_table(
        objects.instances.astype(np.int32),
        properties=("label", "centroid", "bbox", "area", "perimeter", "eccentricity", "solidity"),
    )
    labels = shape["label"]
    area = shape["area"].astype(np.int64)
    sums = [
        ndimage.sum_labels(plane.astype(np.float64), objects.instances, labels) for plane in planes.values()
    ]
    square_um = None if pixel_size is None else pixel_size[0] * pixel_size[1]
    rows = []
    for k, label in enumerate(labels.tolist()):
        index = int(objects.classes[label])
        row: list[Any] = [label, index, class_names.get(index, str(index))]
        row += [_round(shape["centroid-1"][k]), _round(shape["centroid-0"][k])]
        row += [int(shape[f"bbox-{n}"][k]) for n in (1, 0, 3, 2)]
        row += [int(area[k]), None if square_um is None else _round(area[k] * square_um)]
        row += [_round(shape[key][k]) for key in ("perimeter", "eccentricity", "solidity")]
        for total in sums:
            row += [_round(total[k] / area[k]), _round(total[k])]
        rows.append(row)
    return Table(columns, rows)


def _round(value: float) -> float:
    return round(float(value), DECIMALS)
