"""Label images: one integer image per image, named like it. An instance label image (Cellpose,
StarDist, napari, Fiji's label images) gives each object its own id, all of one class; a class
label image gives each pixel a class, by its index in the project or through a value -> name table.
TIFF is read with tifffile, PNG with Pillow."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Literal

import numpy as np
import tifffile
from PIL import Image as PILImage
from skimage.segmentation import relabel_sequential

from labeling.importers.archive import NamedFile
from labeling.importers.labels import (
    MAX_INSTANCES,
    AnnotationFileError,
    ClassKey,
    Drawn,
    ImageLabels,
    image_name_of,
)

LabelImageKind = Literal["instances", "classes"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def is_label_image(data: bytes) -> bool:
    return data.startswith(PNG_MAGIC) or data[:4] in TIFF_MAGIC


def read_label_image(data: bytes, *, filename: str) -> np.ndarray:
    """A 2-D array of non-negative integers. Shape: (H, W)."""
    try:
        array = _read_tiff(data) if data[:4] in TIFF_MAGIC else _read_png(data)
    except AnnotationFileError as error:
        raise AnnotationFileError(f"{filename}: {error}") from None
    except Exception as error:
        raise AnnotationFileError(f"{filename}: the label image is damaged or truncated ({error})") from None
    if array.ndim != 2:
        raise AnnotationFileError(
            f"{filename}: a label image has one integer channel, not shape {array.shape}"
        )
    if array.dtype.kind not in "ui" or array.dtype.itemsize > 4:
        raise AnnotationFileError(f"{filename}: label images hold integers, not {array.dtype}")
    if array.dtype.kind == "i" and array.size and int(array.min()) < 0:
        raise AnnotationFileError(f"{filename}: a label image has no negative values")
    return array


def _check_pixels(width: int, height: int) -> None:
    """Refuse a label image larger than an image may be before decoding it (Pillow's limit is
    set from MAX_IMAGE_PIXELS when the app starts)."""
    limit = PILImage.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise AnnotationFileError(
            f"it declares {width}x{height} pixels, more than an image may have ({limit}, MAX_IMAGE_PIXELS)"
        )


def _read_tiff(data: bytes) -> np.ndarray:
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        if len(tif.pages) != 1:
            raise AnnotationFileError(
                f"it has {len(tif.pages)} pages; send one label image per image (or per plane of a stack)"
            )
        page = tif.pages.first
        _check_pixels(int(page.imagewidth), int(page.imagelength))
        return np.asarray(page.asarray())


def _read_png(data: bytes) -> np.ndarray:
    image = PILImage.open(io.BytesIO(data))
    _check_pixels(image.width, image.height)
    if image.mode not in ("1", "L", "P", "I", "I;16", "I;16B", "I;16L"):
        raise AnnotationFileError(
            f"a {image.mode} PNG is a picture, not a label image of one integer channel"
        )
    image.load()
    return np.asarray(image)


def parse_label_image(
    file: NamedFile,
    *,
    kind: LabelImageKind,
    class_name: str | None,
    class_values: Mapping[int, str] | None,
) -> ImageLabels:
    array = read_label_image(file.data, filename=file.name)
    values = np.unique(array)
    values = values[values > 0]
    if kind == "instances":
        return _instances(file, array.shape, values, class_name)
    if class_values is not None:
        unknown = sorted(int(v) for v in values if int(v) not in class_values)
        if unknown:
            raise AnnotationFileError(
                f"{file.name}: values {unknown[:10]} have no class in the table given (classes)"
            )
        keys: dict[int, ClassKey] = {int(v): class_values[int(v)] for v in values}
    else:
        keys = {int(v): int(v) for v in values}

    def draw(height: int, width: int, index: Mapping[ClassKey, int]) -> Drawn:
        found, inverse = np.unique(read_label_image(file.data, filename=file.name), return_inverse=True)
        table = np.array([index[keys[int(v)]] if v else 0 for v in found], dtype=np.uint16)
        return Drawn(classes=table[inverse].reshape(height, width), instances=None, objects=0)

    return ImageLabels(
        image_name=image_name_of(file.name),
        origin=file.name,
        classes=frozenset(keys.values()),
        draw=draw,
        size=(int(array.shape[0]), int(array.shape[1])),
        countable=False,
    )


def _instances(
    file: NamedFile, shape: tuple[int, ...], values: np.ndarray, class_name: str | None
) -> ImageLabels:
    if not class_name:
        raise AnnotationFileError(
            f"{file.name} is an instance label image; say which class its objects are (class_name)"
        )
    if len(values) > MAX_INSTANCES:
        raise AnnotationFileError(f"{file.name}: {len(values)} objects do not fit a 16-bit instance map")

    def draw(height: int, width: int, index: Mapping[ClassKey, int]) -> Drawn:
        ids = read_label_image(file.data, filename=file.name)
        if int(ids.max(initial=0)) > MAX_INSTANCES:  # ids kept as they are wherever they fit
            ids = relabel_sequential(ids)[0]
        instances = ids.astype(np.uint16)
        classes = np.where(instances > 0, index[class_name], 0).astype(np.uint16)
        return Drawn(classes=classes, instances=instances, objects=len(values))

    return ImageLabels(
        image_name=image_name_of(file.name),
        origin=file.name,
        classes=frozenset({class_name}),
        draw=draw,
        size=(int(shape[0]), int(shape[1])),
    )
