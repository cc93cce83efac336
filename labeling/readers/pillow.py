"""PNG and JPEG through Pillow: 2-D, one grey channel or three colour channels."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
from PIL import Image as PILImage

from labeling.readers.base import COLOUR_NAMES, ImageReader, ImageReadError, Layout

MODE_DTYPES = {"1": np.uint8, "L": np.uint8, "P": np.uint8, "LA": np.uint8, "PA": np.uint8, "F": np.float32}


class PillowReader(ImageReader):
    def __init__(self, handle: BinaryIO, *, filename: str, kind: str) -> None:
        try:
            self._image: PILImage.Image = PILImage.open(handle)
        except PILImage.DecompressionBombError as error:
            raise ImageReadError(f"{filename}: {error}; crop or downsample the image") from None
        except Exception as error:
            raise ImageReadError(f"{filename}: the file is damaged or truncated ({error})") from None
        super().__init__(_layout(self._image, filename, kind), filename)
        self._planes: list[np.ndarray] | None = None

    def _read(self, c: int, z: int, t: int) -> np.ndarray:
        if self._planes is None:
            self._planes = _decode(self._image, self.filename)
        return self._planes[c]


def _layout(image: PILImage.Image, filename: str, kind: str) -> Layout:
    mode = image.mode
    names: tuple[str, ...]
    dtype: np.dtype
    if mode in ("RGB", "RGBA"):
        names, dtype = COLOUR_NAMES, np.dtype(np.uint8)
    elif mode.startswith("I;16") or mode == "I":
        names, dtype = ("gray",), np.dtype(np.uint16)
    elif mode in MODE_DTYPES:
        names, dtype = ("gray",), np.dtype(MODE_DTYPES[mode])
    else:
        raise ImageReadError(f"{filename}: colour mode {mode} ({kind.upper()}) is not supported")
    return Layout(format=kind, width=image.width, height=image.height, dtype=dtype, channel_names=names)


def _decode(image: PILImage.Image, filename: str) -> list[np.ndarray]:
    image.load()
    if image.mode in ("1", "P", "LA", "PA"):
        image = image.convert("L")
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        return [rgb[..., i].copy() for i in range(3)]
    array = np.asarray(image)
    if image.mode == "I":
        if array.min() < 0 or array.max() > 65535:
            raise ImageReadError(f"{filename}: 32-bit integer pixels are not supported")
        return [array.astype(np.uint16)]
    return [array.astype(MODE_DTYPES.get(image.mode, np.uint16))]
