"""Reading uploaded microscopy files into channel planes, and rendering them for display.

Pure functions on bytes and numpy arrays, no Django. Every refusal raises ImageReadError with a
message meant for the person who uploaded the file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import numpy as np
from PIL import Image as PILImage

from labeling.readers.base import (
    CHANNEL_NAME_RE,
    PAGES_CHOICES,
    SUPPORTED_DTYPES,
    ImageReader,
    ImageReadError,
    Layout,
    PagesAre,
    check_layout,
)
from labeling.readers.czi import CziReader
from labeling.readers.nd2file import Nd2Reader
from labeling.readers.pillow import PillowReader
from labeling.readers.tiff import TiffReader

__all__ = [
    "CHANNEL_NAME_RE",
    "PAGES_CHOICES",
    "SUPPORTED_DTYPES",
    "ImageReadError",
    "ImageReader",
    "Layout",
    "PagesAre",
    "open_image",
    "read_channels",
]

DISPLAY_PERCENTILES = (0.5, 99.5)
THUMBNAIL_SIZE = 256
READ_FORMATS = "PNG, JPEG, TIFF, OME-TIFF, CZI or ND2"

# First bytes of formats we do not read, so a refusal can say what was sent.
OTHER_FORMATS = [
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image (or a legacy ND2 file)"),
    (b"\x89HDF", "an HDF5 file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
]


def sniff_format(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"ZISRAWFILE"):
        return "czi"
    if head.startswith(b"\xda\xce\xbe\n"):
        return "nd2"
    return None


def _unsupported(head: bytes) -> str:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    return next((what for magic, what in OTHER_FORMATS if head.startswith(magic)), "")


@contextmanager
def open_image(
    data: bytes | BinaryIO,
    *,
    filename: str,
    pages: PagesAre | None = None,
    max_pixels: int,
    max_planes: int,
    max_channels: int | None = None,
    use_metadata: bool = True,
    path: str | None = None,
) -> Iterator[ImageReader]:
    """An open reader of an uploaded file, its layout checked against what we keep and the
    budgets (pixels x channels of one plane, planes, and channels) before any pixel is decoded.

    `pages` says what the pages of a multi-page TIFF without metadata are; files whose metadata
    says (OME-TIFF, ImageJ, CZI, ND2) follow their metadata, unless `use_metadata` is False (a
    stored file is read again as it was read when it came: layout.pages says how).

    `data` is the file's bytes or an open, seekable binary file (a stored file: then only what a
    plane needs is read, not the whole file); `path`, where the file lies on disk, spares the CZI
    reader (libCZI opens paths) a temporary copy.
    """
    handle = io.BytesIO(data) if isinstance(data, bytes) else data
    head = handle.read(16)
    handle.seek(0)
    kind = sniff_format(head)
    if kind is None:
        what = _unsupported(head)
        sent = f"this is {what}, which this server does not read" if what else "not an image"
        raise ImageReadError(f"{filename}: {sent}; send {READ_FORMATS}")
    reader: ImageReader
    if kind == "tiff":
        reader = TiffReader(handle, filename=filename, pages=pages, use_metadata=use_metadata)
    elif kind == "czi":
        reader = CziReader(handle, filename=filename, path=path)
    elif kind == "nd2":
        reader = Nd2Reader(handle, filename=filename)
    else:
        reader = PillowReader(handle, filename=filename, kind=kind)
    try:
        check_layout(
            reader.layout,
            filename=filename,
            max_pixels=max_pixels,
            max_planes=max_planes,
            max_channels=max_channels,
        )
        yield reader
    finally:
        reader.close()


def read_channels(
    data: bytes, *, filename: str, max_pixels: int, pages: PagesAre = "channels"
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """The channel names and (H, W) planes of a 2-D file read outside the app (the predict command,
    benchmarks); a multi-page TIFF without metadata is read as channels unless `pages` says
    otherwise, and a z/t stack is refused (import it into a project to work plane by plane)."""
    with open_image(
        data, filename=filename, pages=pages, max_pixels=max_pixels, max_planes=max_pixels
    ) as reader:
        layout = reader.layout
        if layout.is_stack:
            raise ImageReadError(
                f"{filename}: a stack of {layout.size_z} z-planes and {layout.size_t} time points; "
                "upload it to a project to predict plane by plane"
            )
        return layout.channel_names, [reader.read(layout.plane_index(c=c)) for c in range(layout.size_c)]


def display_range(plane: np.ndarray) -> tuple[float, float]:
    """Robust contrast limits: the 0.5th and 99.5th percentiles, widened if they meet."""
    sample = plane[:: max(1, plane.shape[0] // 1024), :: max(1, plane.shape[1] // 1024)]
    low, high = (float(v) for v in np.percentile(sample, DISPLAY_PERCENTILES))
    if high <= low:
        low, high = float(plane.min()), float(plane.max())
    if high <= low:
        high = low + 1.0
    return low, high


def to_display(plane: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map [low, high] of the original values to 0..255 (uint8), clipping outside."""
    scaled = (plane.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def encode_png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def thumbnail_png(display: np.ndarray) -> bytes:
    image = PILImage.fromarray(display)
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# Display tiles -------------------------------------------------------------------------------
# A channel's display rendition as an image pyramid: level 0 is the rendition, each further level
# halves both sides (mean of 2x2 blocks), up to the first level that fits in one tile. The browser
# draws only the tiles it shows, at the level that fits its zoom, so an 8192x8192 image costs
# about as much to look at as a 2048x2048 one.
TILE_SIZE = 512


def pyramid_levels(width: int, height: int, tile_size: int = TILE_SIZE) -> int:
    """How many levels an image of this size has: 1 when it fits in one tile."""
    levels = 1
    while max(width, height) > tile_size * 2 ** (levels - 1):
        levels += 1
    return levels


def halve(plane: np.ndarray) -> np.ndarray:
    """One pyramid step: the mean of each 2x2 block, an odd last row or column repeated.

    Shape: (h, w) -> (ceil(h / 2), ceil(w / 2)), same dtype.
    """
    height, width = plane.shape
    padded = np.pad(plane, ((0, height % 2), (0, width % 2)), mode="edge").astype(np.uint16)
    total = padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2]
    return ((total + 2) // 4).astype(plane.dtype)


def pyramid(display: np.ndarray, tile_size: int = TILE_SIZE) -> list[np.ndarray]:
    """All levels of an 8-bit display rendition, finest first."""
    levels = [display]
    for _ in range(pyramid_levels(display.shape[1], display.shape[0], tile_size) - 1):
        levels.append(halve(levels[-1]))
    return levels


def tile_of(level: np.ndarray, col: int, row: int, tile_size: int = TILE_SIZE) -> np.ndarray:
    """Tile (col, row) of one pyramid level: tile_size square, smaller at the right and bottom edges.

    Raises IndexError for a tile outside the level.
    """
    height, width = level.shape
    if not (0 <= col * tile_size < width and 0 <= row * tile_size < height):
        raise IndexError(f"tile ({col}, {row}) is outside this level ({width}x{height} pixels)")
    return level[row * tile_size : (row + 1) * tile_size, col * tile_size : (col + 1) * tile_size]


def decode_display(data: bytes) -> np.ndarray:
    """The 8-bit values of a display rendition we wrote (a greyscale PNG)."""
    image = PILImage.open(io.BytesIO(data))
    return np.asarray(image.convert("L") if image.mode != "L" else image, dtype=np.uint8)
