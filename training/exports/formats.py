"""One image's labels in each format, as bytes or JSON-ready dicts (pure, no Django).

- Label images (class and instance maps): TIFF through tifffile, the reader of Fiji, napari and
  scikit-image; uint16, or uint32 for an instance map of more than 65535 objects.
- OME-TIFF: the image's channels and the label maps as channels of one file, with its physical
  pixel size, written by tifffile's OME-XML writer (Fiji's Bio-Formats, napari, QuPath read it).
- COCO: each object's mask as run-length encoding made by pycocotools, the reference
  implementation, so its area and box are what COCO tools compute.
- QuPath GeoJSON: each object as a shapely (Multi)Polygon along its pixels' edges, so the pixels
  whose centres lie inside are exactly the object's (QuPath's and our importer's rule).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import tifffile
from pycocotools import mask as coco_mask
from scipy import ndimage
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from training.ml.measure import Objects

UINT16_MAX = int(np.iinfo(np.uint16).max)
_UNSAFE = re.compile(r"[\\/:\x00-\x1f]")


@dataclass(frozen=True)
class LabelClassInfo:
    index: int
    name: str
    color: str  # "#rrggbb"

    @property
    def rgb(self) -> list[int]:
        return [int(self.color[start : start + 2], 16) for start in (1, 3, 5)]


def file_stem(image_name: str) -> str:
    """An image's name as a file name in the zip: no folders, no drive letters."""
    return _UNSAFE.sub("_", image_name).strip(". ") or "image"


def instance_array(objects: Objects) -> np.ndarray:
    dtype = np.uint16 if objects.count <= UINT16_MAX else np.uint32
    return objects.instances.astype(dtype)


def label_tiff(array: np.ndarray) -> bytes:
    """A 2-D label image as a zlib-compressed TIFF. Shape: (H, W) uint16 or uint32."""
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, compression="zlib", photometric="minisblack")
    return buffer.getvalue()


def ome_tiff(
    planes: Mapping[str, np.ndarray],
    classes: np.ndarray,
    instances: np.ndarray,
    *,
    pixel_size: tuple[float, float] | None,
) -> bytes:
    """The image's channels, then "classes" and "instances", as one OME-TIFF of axes CYX, in the
    widest type any of them needs (float32 for float images).

    Shape: planes {name: (H, W)}, classes and instances (H, W).
    """
    arrays = [*planes.values(), classes, instances]
    dtype = np.result_type(*[array.dtype for array in arrays])
    if dtype.kind == "f" or dtype.itemsize > 4 or dtype.kind == "i":
        dtype = np.dtype(np.float32) if dtype.kind == "f" else np.dtype(np.uint32)
    stacked = np.stack([array.astype(dtype, copy=False) for array in arrays])
    metadata: dict[str, Any] = {"axes": "CYX", "Channel": {"Name": [*planes, "classes", "instances"]}}
    if pixel_size is not None:
        metadata.update(
            PhysicalSizeX=pixel_size[0],
            PhysicalSizeXUnit="µm",
            PhysicalSizeY=pixel_size[1],
            PhysicalSizeYUnit="µm",
        )
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer, stacked, ome=True, photometric="minisblack", compression="zlib", metadata=metadata
    )
    return buffer.getvalue()


def object_regions(objects: Objects) -> Iterator[tuple[int, int, tuple[slice, slice], np.ndarray]]:
    """(object id, class index, its box, its mask within the box) of each object, by id."""
    for number, box in enumerate(ndimage.find_objects(objects.instances), start=1):
        if box is not None:
            yield number, int(objects.classes[number]), box, objects.instances[box] == number


def coco_annotations(objects: Objects, *, image_id: int, first_id: int) -> list[dict[str, Any]]:
    """One COCO annotation per object, its mask run-length encoded by pycocotools."""
    height, width = objects.instances.shape
    canvas = np.zeros((height, width), dtype=np.uint8, order="F")
    found = []
    for offset, (_, index, box, inside) in enumerate(object_regions(objects)):
        canvas[box] = inside
        rle = coco_mask.encode(canvas)
        canvas[box] = 0
        found.append(
            {
                "id": first_id + offset,
                "image_id": image_id,
                "category_id": index,
                "segmentation": {"size": [height, width], "counts": rle["counts"].decode("ascii")},
                "area": float(coco_mask.area(rle)),
                "bbox": [float(v) for v in coco_mask.toBbox(rle)],
                "iscrowd": 0,
            }
        )
    return found


def pixel_polygon(inside: np.ndarray, *, top: int, left: int) -> BaseGeometry:
    """The (Multi)Polygon along the outer edges of these pixels: the union of their rows' runs.

    Shape: inside (h, w) bool, placed at (top, left) of the image.
    """
    padded = np.zeros((inside.shape[0], inside.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = inside
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)  # row-major: each run's end follows its start
    boxes = shapely.box(left + starts, top + rows, left + ends, top + rows + 1)
    return shapely.union_all(boxes).simplify(0)


def geojson_features(objects: Objects, classes: Mapping[int, LabelClassInfo]) -> list[dict[str, Any]]:
    """One QuPath feature per object: its polygon in pixel coordinates and its classification."""
    features = []
    for number, index, box, inside in object_regions(objects):
        shape = pixel_polygon(inside, top=box[0].start, left=box[1].start)
        known = classes.get(index)
        features.append(
            {
                "type": "Feature",
                "id": f"object-{number}",
                "geometry": mapping(shape),
                "properties": {
                    "objectType": "annotation",
                    "classification": {
                        "name": known.name if known else str(index),
                        "color": known.rgb if known else [128, 128, 128],
                    },
                    "object": number,
                },
            }
        )
    return features
