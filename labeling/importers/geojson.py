"""QuPath GeoJSON: one file per image, named like it; each polygon feature is an object whose
class is its `classification` name. Shapes are read and repaired with shapely, and a pixel
belongs to a shape when its centre lies inside it (the rule the brush rasteriser follows).
Points and lines cannot be masks and are counted as skipped."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape as to_shape
from shapely.geometry.base import BaseGeometry

from labeling.importers.archive import NamedFile
from labeling.importers.labels import (
    AnnotationFileError,
    ClassKey,
    Drawn,
    ImageLabels,
    Region,
    image_name_of,
    paint_objects,
)

AREA_TYPES = ("Polygon", "MultiPolygon")


def is_geojson(document: Any) -> bool:
    if isinstance(document, list):
        return all(isinstance(item, dict) and item.get("type") == "Feature" for item in document)
    return isinstance(document, dict) and document.get("type") in ("FeatureCollection", "Feature")


def parse_geojson(document: Any, *, file: NamedFile, class_name: str | None) -> ImageLabels:
    features = _features(document)
    shapes: list[tuple[BaseGeometry, str]] = []
    skipped = 0
    unclassified = 0
    for number, feature in enumerate(features):
        geometry = _polygonal(feature, number, file.name)
        if geometry is None:
            skipped += 1
            continue
        name = _classification(feature) or class_name
        if name is None:
            unclassified += 1
            continue
        shapes.append((geometry, name))
    if unclassified:
        raise AnnotationFileError(
            f"{file.name}: {unclassified} shapes have no classification; classify them in QuPath, or "
            "say which class they are (class_name)"
        )

    def draw(height: int, width: int, index: Mapping[ClassKey, int]) -> Drawn:
        objects = (
            (region, index[name])
            for geometry, name in shapes
            for region in _rasterise(geometry, height, width)
        )
        return paint_objects(objects, height, width, what=file.name)

    return ImageLabels(
        image_name=image_name_of(file.name),
        origin=file.name,
        classes=frozenset(name for _, name in shapes),
        draw=draw,
        skipped=skipped,
    )


def _features(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if document.get("type") == "Feature":
        return [document]
    features = document.get("features")
    if not isinstance(features, list):
        raise AnnotationFileError("a FeatureCollection needs a list of features")
    return features


def _polygonal(feature: Any, number: int, filename: str) -> BaseGeometry | None:
    """The feature's area as a valid (Multi)Polygon, or None for points and lines."""
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if not isinstance(geometry, dict):
        raise AnnotationFileError(f"{filename}: feature {number} has no geometry")
    try:
        shape = to_shape(geometry)
    except Exception as error:  # shapely raises several types for malformed coordinates
        raise AnnotationFileError(f"{filename}: feature {number} is not valid GeoJSON ({error})") from None
    if shape.geom_type == "GeometryCollection":
        parts = [part for part in shape.geoms if part.geom_type in AREA_TYPES]
        shape = shapely.union_all(parts) if parts else shape
    if shape.geom_type not in AREA_TYPES:
        return None
    valid = shape if shape.is_valid else shapely.make_valid(shape)
    polygons = shapely.get_parts(valid)
    area = [part for part in polygons if part.geom_type in AREA_TYPES and not part.is_empty]
    return shapely.union_all(area) if area else None


def _classification(feature: dict[str, Any]) -> str | None:
    """QuPath writes {"classification": {"name": "Tumor", "color": [...]}}; some tools a string."""
    properties = feature.get("properties") or {}
    classification = properties.get("classification")
    if isinstance(classification, dict):
        classification = classification.get("name")
    return str(classification).strip() or None if classification else None


def _rasterise(geometry: BaseGeometry, height: int, width: int) -> Iterator[Region]:
    """The pixels whose centres lie inside `geometry`, within its bounding box and the image."""
    left, top, right, bottom = geometry.bounds
    x0, y0 = max(0, int(np.floor(left))), max(0, int(np.floor(top)))
    x1, y1 = min(width, int(np.ceil(right)) + 1), min(height, int(np.ceil(bottom)) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1]
    shapely.prepare(geometry)
    mask = shapely.contains_xy(geometry, xs + 0.5, ys + 0.5)
    if mask.any():
        yield y0, x0, mask
