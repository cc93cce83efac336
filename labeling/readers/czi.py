"""Zeiss CZI through pylibCZIrw (libCZI): channels named from the file's metadata, z and time
as planes, one plane composed per read. libCZI opens files by path, so the bytes are written to
a temporary file for as long as the reader is open, unless the file already lies on disk."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any, BinaryIO

import numpy as np
from pylibCZIrw import czi

from labeling.readers.base import (
    COLOUR_NAMES,
    ImageReader,
    ImageReadError,
    Layout,
    channel_names,
    micrometres,
)

# libCZI's pixel types: (numpy dtype, samples); the colour ones are stored blue, green, red.
PIXEL_TYPES = {
    "Gray8": (np.uint8, 1),
    "Gray16": (np.uint16, 1),
    "Gray32Float": (np.float32, 1),
    "Bgr24": (np.uint8, 3),
    "Bgr48": (np.uint16, 3),
    "Bgr96Float": (np.float32, 3),
}
PLANE_DIMS = ("C", "Z", "T")


class CziReader(ImageReader):
    def __init__(self, handle: BinaryIO, *, filename: str, path: str | None = None) -> None:
        self._copy: Any = None
        if path is None:
            self._copy = tempfile.NamedTemporaryFile(suffix=".czi")  # noqa: SIM115 (closed in close())
            shutil.copyfileobj(handle, self._copy)
            self._copy.flush()
            path = self._copy.name
        self._context: Any = None
        try:
            self._context = czi.open_czi(path)
            self._czi = self._context.__enter__()
            layout, self._samples = _layout(self._czi, filename)
            self._roi = self._czi.total_bounding_rectangle_no_pyramid
        except ImageReadError:
            self.close()
            raise
        except Exception as error:
            self.close()
            raise ImageReadError(f"{filename}: the CZI file is damaged or truncated ({error})") from None
        super().__init__(layout, filename)

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None
        if self._copy is not None:
            self._copy.close()

    def _read(self, c: int, z: int, t: int) -> np.ndarray:
        outer, sample = divmod(c, self._samples)
        array = self._czi.read(roi=self._roi, plane={"C": outer, "Z": z, "T": t})
        if self._samples == 3:
            return array[..., 2 - sample]  # stored blue, green, red
        return array[..., 0]


def _layout(reader: Any, filename: str) -> tuple[Layout, int]:
    # Ranges are (start, end); C, Z and T start at 0.
    sizes = {dim: end - start for dim, (start, end) in reader.total_bounding_box_no_pyramid.items()}
    others = {dim: size for dim, size in sizes.items() if dim not in (*PLANE_DIMS, "X", "Y") and size > 1}
    if len(reader.scenes_bounding_rectangle) > 1:
        others["scenes"] = len(reader.scenes_bounding_rectangle)
    if others:
        raise ImageReadError(
            f"{filename}: the file has {', '.join(f'{d}={n}' for d, n in others.items())} besides "
            "channels, z and time; export each scene or position as its own file"
        )
    types = set(reader.pixel_types.values())
    if len(types) != 1:
        raise ImageReadError(f"{filename}: its channels have different pixel types ({sorted(types)})")
    (pixel_type,) = types
    if pixel_type not in PIXEL_TYPES:
        raise ImageReadError(f"{filename}: CZI pixel type {pixel_type} is not supported")
    dtype, samples = PIXEL_TYPES[pixel_type]
    size_c = sizes.get("C", 1)
    if samples == 3 and size_c > 1:
        raise ImageReadError(f"{filename}: colour images with several channels are not supported")
    metadata = reader.metadata.get("ImageDocument", {}).get("Metadata", {})
    names = COLOUR_NAMES if samples == 3 else channel_names(_channel_names(metadata, size_c))
    x, y, z = _scaling(metadata)
    layout = Layout(
        format="czi",
        width=sizes["X"],
        height=sizes["Y"],
        dtype=np.dtype(dtype),
        channel_names=tuple(names),
        size_z=sizes.get("Z", 1),
        size_t=sizes.get("T", 1),
        pixel_size_x=x,
        pixel_size_y=y,
        pixel_size_z=z,
    )
    return layout, samples


def _as_list(value: Any) -> list[Any]:
    """xmltodict gives one element as a dict and several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _channel_names(metadata: dict[str, Any], size_c: int) -> list[str | None]:
    dimensions = metadata.get("Information", {}).get("Image", {}).get("Dimensions") or {}
    channels = _as_list((dimensions.get("Channels") or {}).get("Channel"))
    names = [channel.get("@Name") if isinstance(channel, dict) else None for channel in channels]
    return names if len(names) == size_c else [None] * size_c


def _scaling(metadata: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """The pixel size from Scaling/Items/Distance, which CZI gives in metres."""
    distances = _as_list(((metadata.get("Scaling") or {}).get("Items") or {}).get("Distance"))
    by_axis: dict[str, float | None] = {}
    for distance in distances:
        try:
            by_axis[distance["@Id"]] = micrometres(float(distance["Value"]), "m")
        except (KeyError, TypeError, ValueError):
            continue
    return by_axis.get("X"), by_axis.get("Y"), by_axis.get("Z")
