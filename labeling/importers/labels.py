"""What an annotation file says about one image, before it is attached: the classes it uses and a
way to draw its label map and instance map once the classes have indices."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from labeling.errors import InvalidInput

# A class is named (COCO categories, GeoJSON classifications, a class_values table) or, in a class
# label image without a table, given by its index in the project.
ClassKey = str | int
MAX_INSTANCES = int(np.iinfo(np.uint16).max)
# What tools append to an image's name for its labels (Cellpose's "_cp_masks", "_masks", ...).
LABEL_SUFFIXES = ("_cp_masks", "_masks", "_mask", "_labels", "_label")
IMAGE_SUFFIXES = (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".png", ".jpg", ".jpeg", ".czi", ".nd2")


class AnnotationFileError(InvalidInput):
    """An annotation file we cannot attach, with a message for the person who sent it (400)."""


@dataclass(frozen=True)
class Drawn:
    """Shape: classes (H, W) uint16, class indices, 0 where no object is; instances (H, W) uint16
    object ids, 0 for none, or None when the file has no objects (a class map)."""

    classes: np.ndarray
    instances: np.ndarray | None
    objects: int


# (height, width, class key -> project class index) -> what was drawn
Draw = Callable[[int, int, Mapping[ClassKey, int]], Drawn]


@dataclass(frozen=True)
class ImageLabels:
    image_name: str
    origin: str  # the file it came from, for messages
    classes: frozenset[ClassKey]
    draw: Draw
    size: tuple[int, int] | None = None  # (height, width) the file declares, if it does
    skipped: int = 0  # shapes that cannot be masks (points, lines, boxes)
    countable: bool = True  # whether its classes are of countable objects


def image_name_of(file_name: str) -> str:
    """The image a per-image annotation file belongs to: its name without folders and suffixes
    ("labels/field-3.tif" and "field-3.tif.geojson" -> "field-3")."""
    name = PurePosixPath(file_name.replace("\\", "/")).name
    for suffix in (".geojson", ".json"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    lowered = name.lower()
    suffix = next((s for s in IMAGE_SUFFIXES if lowered.endswith(s) and len(name) > len(s)), "")
    return name[: len(name) - len(suffix)]


# One object: (top, left, boolean mask) placed at (top, left) of the image, and its class index.
Region = tuple[int, int, np.ndarray]


def name_candidates(image_name: str) -> list[str]:
    """The image names a file's name may mean: itself, then without a label suffix
    ("field-3_cp_masks" -> "field-3")."""
    lowered = image_name.lower()
    trimmed = [
        image_name[: -len(s)] for s in LABEL_SUFFIXES if lowered.endswith(s) and len(image_name) > len(s)
    ]
    return [image_name, *trimmed[:1]]


def paint_objects(objects: Iterable[tuple[Region, int]], height: int, width: int, *, what: str) -> Drawn:
    """Objects painted in order, each with its own id; a later one wins where they overlap. An
    object is drawn as it comes, so only one is in memory at a time besides the maps."""
    classes = np.zeros((height, width), np.uint16)
    instances = np.zeros((height, width), np.uint16)
    count = 0
    for (top, left, mask), class_index in objects:
        count += 1
        if count > MAX_INSTANCES:
            raise AnnotationFileError(
                f"{what}: more than {MAX_INSTANCES} objects do not fit a 16-bit instance map."
            )
        window = (slice(top, top + mask.shape[0]), slice(left, left + mask.shape[1]))
        classes[window][mask] = class_index
        instances[window][mask] = count
    return Drawn(classes=classes, instances=instances, objects=count)
