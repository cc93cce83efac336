"""Every annotation file of an import, read by its content: a PNG or TIFF is a label image; JSON is
COCO (images + annotations) or GeoJSON (features); anything else is refused by name."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labeling.importers.archive import NamedFile
from labeling.importers.coco import is_coco, parse_coco
from labeling.importers.geojson import is_geojson, parse_geojson
from labeling.importers.label_images import LabelImageKind, is_label_image, parse_label_image
from labeling.importers.labels import AnnotationFileError, ImageLabels

FORMATS = "label images (PNG or TIFF), COCO JSON or QuPath GeoJSON"


@dataclass(frozen=True)
class ReadOptions:
    label_images: LabelImageKind = "instances"
    class_name: str | None = None  # the class of instance label images and unclassified shapes
    class_values: Mapping[int, str] | None = None  # class label images: value -> class name


def read_annotations(files: list[NamedFile], options: ReadOptions) -> list[ImageLabels]:
    found: list[ImageLabels] = []
    for file in files:
        if is_label_image(file.data):
            found.append(
                parse_label_image(
                    file,
                    kind=options.label_images,
                    class_name=options.class_name,
                    class_values=options.class_values,
                )
            )
            continue
        document = _json(file)
        if is_coco(document):
            found.extend(parse_coco(document, filename=file.name))
        elif is_geojson(document):
            found.append(parse_geojson(document, file=file, class_name=options.class_name))
        else:
            raise AnnotationFileError(f"{file.name}: this JSON is neither COCO nor GeoJSON; send {FORMATS}")
    return found


def _json(file: NamedFile) -> Any:
    head = file.data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] not in (b"{", b"["):
        raise AnnotationFileError(f"{file.name}: not a format annotations are imported from; send {FORMATS}")
    try:
        return json.loads(file.data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise AnnotationFileError(f"{file.name}: not valid JSON ({error})") from None
