"""What every image reader gives: a Layout read from the file's header and metadata (no pixels
decoded), and planes read one at a time. Pure, no Django.

A file holds size_c channels of size_z x size_t planes. Plane `index` of a file is
(t * size_z + z) * size_c + c, so a 2-D file's planes are just its channels (index c), as
Channel.page has always counted them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np

from labeling.errors import InvalidInput

SUPPORTED_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
CHANNEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
COLOUR_NAMES = ("red", "green", "blue")

# What the pages of a multi-page TIFF without metadata are, as the uploader says.
PagesAre = Literal["channels", "z", "t"]
PAGES_CHOICES: tuple[PagesAre, ...] = ("channels", "z", "t")


class ImageReadError(InvalidInput):
    """A file we will not store, with a message for the person who uploaded it (400)."""


@dataclass(frozen=True)
class Layout:
    """What a file holds, known before any pixel is decoded."""

    format: str  # "png", "jpeg", "tiff", "ome-tiff", "imagej-tiff", "nd2", "czi"
    width: int
    height: int
    dtype: np.dtype
    channel_names: tuple[str, ...]
    size_z: int = 1
    size_t: int = 1
    pixel_size_x: float | None = None  # micrometres per pixel, when the file says
    pixel_size_y: float | None = None
    pixel_size_z: float | None = None  # micrometres between z-planes
    pages: str = ""  # what a TIFF's pages were read as when the file did not say (PAGES_CHOICES)

    @property
    def size_c(self) -> int:
        return len(self.channel_names)

    @property
    def planes(self) -> int:
        """How many (z, t) planes: 1 for a 2-D file."""
        return self.size_z * self.size_t

    @property
    def is_stack(self) -> bool:
        return self.planes > 1

    def plane_index(self, *, c: int, z: int = 0, t: int = 0) -> int:
        return (t * self.size_z + z) * self.size_c + c

    def position(self, index: int) -> tuple[int, int, int]:
        """(c, z, t) of a plane index."""
        rest, c = divmod(index, self.size_c)
        t, z = divmod(rest, self.size_z)
        return c, z, t


class ImageReader(ABC):
    """An open file: its layout, and one plane at a time (shape (height, width), layout.dtype)."""

    def __init__(self, layout: Layout, filename: str) -> None:
        self.layout = layout
        self.filename = filename

    @abstractmethod
    def _read(self, c: int, z: int, t: int) -> np.ndarray: ...

    def close(self) -> None:  # noqa: B027 (readers without resources keep this)
        pass

    def read(self, index: int) -> np.ndarray:
        """Plane `index` (see the module's docstring), decoded; ImageReadError if it cannot be."""
        if not 0 <= index < self.layout.size_c * self.layout.planes:
            raise IndexError(f"{self.filename} has no plane {index}")
        try:
            plane = np.asarray(self._read(*self.layout.position(index)))
        except ImageReadError:
            raise
        except Exception as error:  # the readers raise many types for damaged files
            if "imagecodecs" in str(error):
                raise ImageReadError(
                    f"{self.filename}: its compression cannot be decoded here ({error}); save it "
                    "uncompressed or with zlib"
                ) from None
            raise ImageReadError(f"{self.filename}: the file is damaged or truncated ({error})") from None
        return self._checked(plane)

    def _checked(self, plane: np.ndarray) -> np.ndarray:
        layout = self.layout
        if plane.shape != (layout.height, layout.width):
            raise ImageReadError(
                f"{self.filename}: a plane is {plane.shape[::-1]} pixels but the file says "
                f"{layout.width}x{layout.height}; the file is damaged"
            )
        plane = plane.astype(plane.dtype.newbyteorder("="), copy=False)
        if plane.dtype != layout.dtype:
            raise ImageReadError(f"{self.filename}: a plane is {plane.dtype}, not {layout.dtype} as declared")
        if plane.dtype.kind == "f" and not np.isfinite(plane).all():
            raise ImageReadError(
                f"{self.filename}: the image has NaN or infinite pixels; replace them with numbers first"
            )
        return np.ascontiguousarray(plane)


def check_layout(
    layout: Layout, *, filename: str, max_pixels: int, max_planes: int, max_channels: int | None = None
) -> None:
    """Refuse, before decoding, what we cannot keep or what is over the server's budgets."""
    if layout.dtype not in SUPPORTED_DTYPES:
        raise ImageReadError(
            f"{filename}: pixel type {layout.dtype} ({layout.format}) is not supported; convert the "
            "image to 8- or 16-bit unsigned integers or 32-bit float"
        )
    if layout.width < 1 or layout.height < 1 or layout.size_c < 1:
        raise ImageReadError(f"{filename}: the file holds no image")
    if max_channels is not None and layout.size_c > max_channels:
        raise ImageReadError(
            f"{filename}: {layout.size_c} channels is more than this server accepts ({max_channels}); "
            "if the pages are z-planes or time points, say so (pages=z or pages=t), or raise "
            "MAX_IMAGE_CHANNELS"
        )
    pixels = layout.width * layout.height * layout.size_c
    if pixels > max_pixels:
        raise ImageReadError(
            f"{filename}: {pixels} pixels is more than this server accepts ({max_pixels}); "
            "crop or downsample the image, or raise MAX_IMAGE_PIXELS"
        )
    if layout.planes > max_planes:
        raise ImageReadError(
            f"{filename}: {layout.size_z} z-planes x {layout.size_t} time points make {layout.planes} "
            f"planes, more than this server accepts ({max_planes}); split the stack, or raise "
            "MAX_STACK_PLANES"
        )


def channel_names(raw: list[str | None], *, colour: bool = False) -> tuple[str, ...]:
    """Names for channels: the file's own where it has them, made acceptable (letters, digits and
    _.+- only, unique); "gray" for one unnamed channel, red/green/blue for colour, else ch0, ch1..."""
    if colour and len(raw) == 3 and not any(raw):
        return COLOUR_NAMES
    if len(raw) == 1 and not raw[0]:
        return ("gray",)
    names: list[str] = []
    for position, name in enumerate(raw):
        clean = re.sub(r"[^A-Za-z0-9_.+-]+", "_", (name or "").strip()).strip("_.+-")[:64]
        candidate = clean or f"ch{position}"
        suffix = 2
        while candidate in names:
            candidate = f"{clean[:60]}-{suffix}" if clean else f"ch{position}-{suffix}"
            suffix += 1
        names.append(candidate)
    return tuple(names)


LENGTH_UNITS_IN_MICROMETRES = {
    "pm": 1e-6,
    "Å": 1e-4,
    "nm": 1e-3,
    "µm": 1.0,
    "um": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "mm": 1e3,
    "cm": 1e4,
    "m": 1e6,
}


def micrometres(value: float | None, unit: str = "µm") -> float | None:
    """A length in micrometres, or None when it is missing, not positive or in an unknown unit."""
    if value is None or not np.isfinite(value) or value <= 0:
        return None
    factor = LENGTH_UNITS_IN_MICROMETRES.get(unit.replace("\u03bc", "µ"))
    return float(value) * factor if factor is not None else None
