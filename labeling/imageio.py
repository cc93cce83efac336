"""Reading uploaded microscopy files into channel planes, and rendering them for display.

Pure functions on bytes and numpy arrays, no Django. Every refusal raises ImageReadError with a
message meant for the person who uploaded the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import tifffile
from PIL import Image as PILImage

from labeling.errors import InvalidInput

# We check the pixel budget ourselves, before decoding, with a configurable limit.
PILImage.MAX_IMAGE_PIXELS = None

SUPPORTED_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
DISPLAY_PERCENTILES = (0.5, 99.5)
THUMBNAIL_SIZE = 256


class ImageReadError(InvalidInput):
    pass


@dataclass(frozen=True)
class Planes:
    """The channel planes of one file, all of shape (height, width) and one dtype."""

    arrays: list[np.ndarray]
    suggested_names: list[str]

    @property
    def height(self) -> int:
        return int(self.arrays[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.arrays[0].shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.arrays[0].dtype


def sniff_format(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return None


def read_planes(data: bytes, *, filename: str, max_pixels: int) -> Planes:
    """Decode a PNG, JPEG or TIFF file into channel planes, refusing what we cannot keep."""
    kind = sniff_format(data[:8])
    if kind is None:
        raise ImageReadError(f"{filename}: not a PNG, JPEG or TIFF image")
    if kind == "tiff":
        planes = _read_tiff(data, filename=filename, max_pixels=max_pixels)
    else:
        planes = _read_pillow(data, filename=filename, max_pixels=max_pixels)
    for array in planes.arrays:
        if array.dtype not in SUPPORTED_DTYPES:
            raise ImageReadError(
                f"{filename}: pixel type {array.dtype} is not supported; "
                "convert the image to 8-bit or 16-bit unsigned integers"
            )
    return planes


def _check_budget(filename: str, pixels: int, max_pixels: int) -> None:
    if pixels > max_pixels:
        raise ImageReadError(
            f"{filename}: {pixels} pixels is more than this server accepts ({max_pixels}); "
            "crop or downsample the image, or raise MAX_IMAGE_PIXELS"
        )


def _read_pillow(data: bytes, *, filename: str, max_pixels: int) -> Planes:
    try:
        image: PILImage.Image = PILImage.open(io.BytesIO(data))
        bands = len(image.getbands())
        _check_budget(filename, image.width * image.height * bands, max_pixels)
        image.load()
    except ImageReadError:
        raise
    except Exception as error:  # Pillow raises many types for damaged files.
        raise ImageReadError(f"{filename}: the file is damaged or truncated ({error})") from None
    if image.mode in ("1", "P", "LA", "PA"):
        image = image.convert("L")
    if image.mode == "L":
        return Planes([np.asarray(image, dtype=np.uint8)], ["gray"])
    if image.mode.startswith("I;16"):
        return Planes([np.asarray(image).astype(np.uint16)], ["gray"])
    if image.mode == "I":
        array = np.asarray(image)
        if array.min() >= 0 and array.max() <= 65535:
            return Planes([array.astype(np.uint16)], ["gray"])
        raise ImageReadError(f"{filename}: 32-bit integer pixels are not supported")
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        return Planes([rgb[..., i].copy() for i in range(3)], ["red", "green", "blue"])
    raise ImageReadError(f"{filename}: colour mode {image.mode} is not supported")


def _read_tiff(data: bytes, *, filename: str, max_pixels: int) -> Planes:
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            pages = [page for page in tif.pages if page is not None]
            if not pages:
                raise ImageReadError(f"{filename}: the TIFF file holds no image")
            total = sum(int(np.prod(page.shape)) for page in pages)
            _check_budget(filename, total, max_pixels)
            arrays = [page.asarray() for page in pages]
    except ImageReadError:
        raise
    except Exception as error:
        raise ImageReadError(f"{filename}: the file is damaged or truncated ({error})") from None
    planes: list[np.ndarray] = []
    names: list[str] = []
    for array in arrays:
        if array.ndim == 2:
            planes.append(array)
            names.append(f"ch{len(names)}")
        elif array.ndim == 3 and array.shape[-1] in (3, 4):
            planes.extend(array[..., i] for i in range(3))
            names.extend(["red", "green", "blue"])
        elif array.ndim == 3:
            planes.extend(array[i] for i in range(array.shape[0]))
            names.extend(f"ch{len(names) + i}" for i in range(array.shape[0]))
        else:
            raise ImageReadError(f"{filename}: a page of shape {array.shape} is not a 2-D image")
    if len({plane.shape for plane in planes}) != 1:
        raise ImageReadError(f"{filename}: the pages of this TIFF have different sizes")
    if len({plane.dtype for plane in planes}) != 1:
        raise ImageReadError(f"{filename}: the pages of this TIFF have different pixel types")
    if len(planes) == 1:
        names = ["gray"]
    return Planes([np.ascontiguousarray(plane) for plane in planes], names)


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
