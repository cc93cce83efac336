"""COCO instance segmentation JSON, decoded with pycocotools: polygons, RLE and uncompressed RLE
become masks; categories are classes by name; each image entry is an image by its file name."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping
from numbers import Real
from typing import Any

from pycocotools.coco import COCO

from labeling.importers.labels import (
    AnnotationFileError,
    ClassKey,
    Drawn,
    ImageLabels,
    Region,
    image_name_of,
    paint_objects,
)


def is_coco(document: Any) -> bool:
    return isinstance(document, dict) and "images" in document and "annotations" in document


def parse_coco(document: dict[str, Any], *, filename: str) -> list[ImageLabels]:
    """One ImageLabels per image entry; everything is checked here, so drawing cannot fail."""
    images, categories = _entries(document, filename)
    by_image: dict[int, list[dict[str, Any]]] = {image_id: [] for image_id in images}
    skipped: dict[int, int] = dict.fromkeys(images, 0)
    for number, annotation in enumerate(document["annotations"]):
        image_id, where = _check_annotation(annotation, number, images, categories, filename)
        if annotation.get("segmentation") in (None, [], {}):
            skipped[image_id] += 1  # a box alone is no mask
            continue
        _check_segmentation(annotation["segmentation"], images[image_id], where)
        by_image[image_id].append(annotation)
    coco = _index(document, images)
    names = [image_name_of(str(image["file_name"])) for image in images.values()]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise AnnotationFileError(f"{filename}: several image entries are named {twice[:5]}")
    return [
        ImageLabels(
            image_name=image_name_of(str(image["file_name"])),
            origin=filename,
            classes=frozenset(categories[a["category_id"]] for a in by_image[image_id]),
            draw=_drawer(coco, by_image[image_id], categories, f"{filename}: {image['file_name']}"),
            size=(int(image["height"]), int(image["width"])),
            skipped=skipped[image_id],
        )
        for image_id, image in images.items()
    ]


def _entries(document: dict[str, Any], filename: str) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    if not all(isinstance(document.get(key), list) for key in ("images", "annotations", "categories")):
        raise AnnotationFileError(f"{filename}: a COCO file has lists of images, annotations and categories")
    images: dict[int, dict[str, Any]] = {}
    for image in document["images"]:
        ok = isinstance(image, dict) and isinstance(image.get("file_name"), str)
        ok = ok and all(_is_int(image.get(key)) for key in ("id", "width", "height"))
        if not ok or image["id"] in images or image["width"] < 1 or image["height"] < 1:
            raise AnnotationFileError(
                f"{filename}: every image entry needs a unique id, a file_name, a width and a height "
                f"(this one does not: {str(image)[:200]})"
            )
        images[image["id"]] = image
    categories: dict[int, str] = {}
    for category in document["categories"]:
        if not (isinstance(category, dict) and _is_int(category.get("id")) and category.get("name")):
            raise AnnotationFileError(
                f"{filename}: every category needs an id and a name ({str(category)[:200]})"
            )
        categories[category["id"]] = str(category["name"]).strip()
    return images, categories


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_annotation(
    annotation: Any, number: int, images: Mapping[int, Any], categories: Mapping[int, str], filename: str
) -> tuple[int, str]:
    where = f"{filename}: annotation {number}"
    if not isinstance(annotation, dict):
        raise AnnotationFileError(f"{where} is not an object")
    if annotation.get("image_id") not in images:
        raise AnnotationFileError(
            f"{where} names image id {annotation.get('image_id')!r}, which has no entry"
        )
    if annotation.get("category_id") not in categories:
        raise AnnotationFileError(
            f"{where} names category id {annotation.get('category_id')!r}, which has no entry"
        )
    return int(annotation["image_id"]), where


def _check_segmentation(segmentation: Any, image: Mapping[str, Any], where: str) -> None:
    if isinstance(segmentation, list):
        for polygon in segmentation:
            numbers = isinstance(polygon, list) and all(isinstance(v, Real) for v in polygon)
            if not numbers or len(polygon) < 6 or len(polygon) % 2:
                raise AnnotationFileError(f"{where}: a polygon is a list of at least three x, y pairs")
        return
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, list)):
        if list(segmentation.get("size", [])) != [image["height"], image["width"]]:
            raise AnnotationFileError(f"{where}: its RLE size is not the image's [height, width]")
        return
    raise AnnotationFileError(f"{where}: segmentation is neither polygons nor RLE")


def _index(document: dict[str, Any], images: Mapping[int, Any]) -> COCO:
    coco = COCO()
    coco.dataset = {"images": list(images.values()), "annotations": [], "categories": document["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


def _drawer(coco: COCO, annotations: list[dict[str, Any]], categories: Mapping[int, str], what: str) -> Any:
    def draw(height: int, width: int, index: Mapping[ClassKey, int]) -> Drawn:
        def objects() -> Iterator[tuple[Region, int]]:
            for annotation in annotations:
                try:
                    mask = coco.annToMask(annotation).astype(bool)
                except Exception as error:  # pycocotools raises many types for bad RLE
                    raise AnnotationFileError(f"{what}: a segmentation cannot be decoded ({error})") from None
                yield (0, 0, mask), index[categories[annotation["category_id"]]]

        return paint_objects(objects(), height, width, what=what)

    return draw
