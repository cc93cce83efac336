"""TIFF through tifffile: OME-TIFF (OME-XML read with ome-types), ImageJ hyperstacks, and plain
TIFFs whose pages the uploader says are channels, z-planes or time points.

Only the header and the image directories are read to make the layout; a plane decodes its one
page, so reading one plane of a large stack costs one page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import ome_types
import tifffile

from labeling.readers.base import (
    ImageReader,
    ImageReadError,
    Layout,
    PagesAre,
    channel_names,
    micrometres,
)

PLANE_AXES = "TZC"  # the page-level axes we keep; Y, X and S (samples) lie within a page
PAGES_AXIS = {"channels": "C", "z": "Z", "t": "T"}


@dataclass
class _Arrangement:
    """How a TIFF's pages make planes: `pages` in the order of `axes` (a C-order ravel)."""

    format: str
    pages: list[Any]
    axes: dict[str, int]  # page-level axis -> size, outermost first
    names: list[str | None] = field(default_factory=list)
    pages_as: str = ""
    # tifffile writes an (H, W, k) array with k of 2 or more (not RGB) as H pages of (W, k): the
    # image is H x W with k channels, read whole (a page is a row).
    rows_as_pages: bool = False
    pixel_size: tuple[float | None, float | None, float | None] = (None, None, None)


class TiffReader(ImageReader):
    def __init__(
        self, handle: BinaryIO, *, filename: str, pages: PagesAre | None, use_metadata: bool = True
    ) -> None:
        try:
            self._tif = tifffile.TiffFile(handle)
        except Exception as error:
            raise ImageReadError(f"{filename}: the file is damaged or truncated ({error})") from None
        try:
            if use_metadata:
                arrangement = _arrangement(self._tif, filename, pages)
            else:
                arrangement = _plain(self._tif, filename, pages)
            layout, self._samples = _layout(arrangement, filename)
        except ImageReadError:
            self._tif.close()
            raise
        except Exception as error:
            self._tif.close()
            raise ImageReadError(f"{filename}: the file is damaged or truncated ({error})") from None
        super().__init__(layout, filename)
        self._arrangement = arrangement
        self._cached: tuple[int, np.ndarray] | None = None  # colour planes share a page

    def close(self) -> None:
        self._tif.close()

    def _read(self, c: int, z: int, t: int) -> np.ndarray:
        outer, sample = divmod(c, self._samples)
        where = {"C": outer, "Z": z, "T": t}
        axes = self._arrangement.axes
        number = int(np.ravel_multi_index([where[a] for a in axes], list(axes.values()))) if axes else 0
        if self._arrangement.rows_as_pages and self._cached is None:
            self._cached = (0, np.stack([page.asarray() for page in self._arrangement.pages]))
        if self._cached is None or self._cached[0] != number:
            page = self._arrangement.pages[number]
            if page is None:
                raise ImageReadError(f"{self.filename}: plane {number} is missing from the file")
            self._cached = (number, _samples_last(page.asarray(), page.keyframe.axes))
        array = self._cached[1]
        return array[..., sample] if array.ndim == 3 else array


def _samples_last(array: np.ndarray, axes: str) -> np.ndarray:
    return np.moveaxis(array, 0, -1) if axes.startswith("S") and array.ndim == 3 else array


def _arrangement(tif: tifffile.TiffFile, filename: str, pages: PagesAre | None) -> _Arrangement:
    if tif.is_ome:
        return _ome(tif, filename)
    series = tif.series[0] if tif.series else None
    if series is not None and tif.is_imagej:
        arrangement = _from_series(series, "imagej-tiff", filename)
        arrangement.pixel_size = _imagej_calibration(tif)
        return arrangement
    if series is not None and len(tif.series) == 1 and tif.is_shaped:
        axes = dict(zip(series.get_axes(False), series.get_shape(False), strict=True))
        if all(a in PLANE_AXES + "YXS" for a in axes):  # tifffile wrote the axes' names
            return _from_series(series, "tiff", filename)
        if _channels_last(series):
            return _Arrangement(format="tiff", pages=list(series.pages), axes={}, rows_as_pages=True)
    return _plain(tif, filename, pages)


def _channels_last(series: Any) -> bool:
    """A shaped TIFF of one (H, W, k) array, k <= 4 channels last, that tifffile stored as H pages
    of W x k pixels (it does so for k = 2, e.g. grey + alpha, and for k = 3 or 4 as minisblack)."""
    shape = tuple(series.get_shape(False))
    return series.get_axes(False) == "QYX" and len(shape) == 3 and 2 <= shape[2] <= 4


def _from_series(series: Any, kind: str, filename: str) -> _Arrangement:
    sizes = dict(zip(series.get_axes(False), series.get_shape(False), strict=True))
    unknown = {a: n for a, n in sizes.items() if a not in PLANE_AXES + "YXS" and n > 1}
    if unknown:
        raise ImageReadError(
            f"{filename}: the image has axes {', '.join(f'{a}={n}' for a, n in unknown.items())} besides "
            "channels, z and time; save each of those as its own file"
        )
    axes = {a: n for a, n in sizes.items() if a in PLANE_AXES and n > 1}
    pages = list(series.pages)
    if len(pages) != math.prod(axes.values()):
        raise ImageReadError(
            f"{filename}: the file has {len(pages)} image pages where its metadata describes "
            f"{math.prod(axes.values())}; save it again with Fiji or Bio-Formats"
        )
    return _Arrangement(format=kind, pages=pages, axes=axes)


def _ome(tif: tifffile.TiffFile, filename: str) -> _Arrangement:
    try:
        ome = ome_types.from_xml(tif.ome_metadata or "")
    except Exception as error:
        raise ImageReadError(f"{filename}: its OME-XML metadata cannot be read ({error})") from None
    if len(ome.images) != 1 or len(tif.series) != 1:
        raise ImageReadError(
            f"{filename}: this OME-TIFF holds {max(len(ome.images), len(tif.series))} images (series); "
            "export each as its own file"
        )
    pixels = ome.images[0].pixels
    arrangement = _from_series(tif.series[0], "ome-tiff", filename)
    arrangement.names = [channel.name for channel in pixels.channels]

    def size(value: float | None, unit: Any) -> float | None:
        return micrometres(value, getattr(unit, "value", str(unit)))

    arrangement.pixel_size = (
        size(pixels.physical_size_x, pixels.physical_size_x_unit),
        size(pixels.physical_size_y, pixels.physical_size_y_unit),
        size(pixels.physical_size_z, pixels.physical_size_z_unit),
    )
    return arrangement


def _imagej_calibration(tif: tifffile.TiffFile) -> tuple[float | None, float | None, float | None]:
    """ImageJ keeps the pixel size as the resolution (pixels per unit) with its unit."""
    metadata = tif.imagej_metadata or {}
    unit = str(metadata.get("unit", "")).replace("\\u00B5", "µ")
    x_per_unit, y_per_unit = tif.pages.first.get_resolution()
    spacing = metadata.get("spacing")
    return (
        micrometres(1 / x_per_unit if x_per_unit else None, unit),
        micrometres(1 / y_per_unit if y_per_unit else None, unit),
        micrometres(float(spacing) if spacing else None, unit),
    )


def _plain(tif: tifffile.TiffFile, filename: str, pages: PagesAre | None) -> _Arrangement:
    found = [page for page in tif.pages if page is not None]
    if not found:
        raise ImageReadError(f"{filename}: the TIFF file holds no image")
    if len(found) == 1:
        return _Arrangement(format="tiff", pages=found, axes={})
    if pages is None:
        raise ImageReadError(
            f"{filename} has {len(found)} pages and no metadata saying what they are; upload it "
            "again saying whether they are channels, z-planes or time points (pages=channels, "
            "pages=z or pages=t), or save it as OME-TIFF",
            code="pages_needed",
        )
    if len({(page.shape, page.dtype) for page in found}) != 1:
        raise ImageReadError(f"{filename}: the pages of this TIFF have different sizes or pixel types")
    return _Arrangement(format="tiff", pages=found, axes={PAGES_AXIS[pages]: len(found)}, pages_as=pages)


def _layout(arrangement: _Arrangement, filename: str) -> tuple[Layout, int]:
    """The layout, and how many of a page's samples are channels (3 of RGBA's 4)."""
    first = arrangement.pages[0].keyframe
    in_page = dict(zip(first.axes, first.shape, strict=True))
    if arrangement.rows_as_pages:
        in_page = {"Y": len(arrangement.pages), "X": first.shape[0], "S": first.shape[1]}
    if set(in_page) - set("YXS"):
        raise ImageReadError(f"{filename}: a page of shape {first.shape} is not a 2-D image")
    samples = in_page.get("S", 1)
    colour = first.photometric == tifffile.PHOTOMETRIC.RGB and samples in (3, 4)
    if colour:
        samples = 3  # an alpha channel is dropped
    size_c = arrangement.axes.get("C", 1) * samples
    names: list[str | None] = arrangement.names if len(arrangement.names) == size_c else [None] * size_c
    x, y, z = arrangement.pixel_size
    layout = Layout(
        format=arrangement.format,
        width=in_page["X"],
        height=in_page["Y"],
        dtype=np.dtype(first.dtype).newbyteorder("="),
        channel_names=channel_names(names, colour=colour),
        size_z=arrangement.axes.get("Z", 1),
        size_t=arrangement.axes.get("T", 1),
        pixel_size_x=x,
        pixel_size_y=y,
        pixel_size_z=z,
        pages=arrangement.pages_as,
    )
    return layout, samples
