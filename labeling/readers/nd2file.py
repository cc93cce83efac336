"""Nikon ND2 through the nd2 package: channels named from the file's metadata, z and time loops
as planes, one frame (all channels of one (z, t)) decoded per read."""

from __future__ import annotations

from typing import Any, BinaryIO, cast

import nd2
import numpy as np

from labeling.readers.base import ImageReader, ImageReadError, Layout, channel_names, micrometres

FRAME_AXES = {"C", "Y", "X", "S"}


class Nd2Reader(ImageReader):
    def __init__(self, file: BinaryIO, *, filename: str) -> None:
        try:
            handle = nd2.ND2File(cast(Any, file))  # nd2 types its file argument narrower than BinaryIO
        except Exception as error:
            raise ImageReadError(f"{filename}: the ND2 file is damaged or truncated ({error})") from None
        try:
            self._open(handle, filename)
        except Exception:
            handle.close()
            raise

    @classmethod
    def from_handle(cls, handle: Any, *, filename: str) -> Nd2Reader:
        """A reader over an open ND2File (or an object with the same attributes)."""
        reader = cls.__new__(cls)
        reader._open(handle, filename)
        return reader

    def _open(self, handle: Any, filename: str) -> None:
        self._handle = handle
        try:
            layout, self._frames = _layout(handle, filename)
        except ImageReadError:
            raise
        except Exception as error:
            raise ImageReadError(f"{filename}: the ND2 file is damaged or truncated ({error})") from None
        super().__init__(layout, filename)
        self._cached: tuple[int, np.ndarray] | None = None

    def close(self) -> None:
        self._handle.close()

    def _read(self, c: int, z: int, t: int) -> np.ndarray:
        number = self._frames[(t, z)]
        if self._cached is None or self._cached[0] != number:
            self._cached = (number, np.asarray(self._handle.read_frame(number)))
        frame = self._cached[1]
        if frame.ndim == 2:
            return frame
        # Colour frames come as (Y, X, 3), several channels as (C, Y, X).
        return frame[..., c] if "S" in self._handle.sizes else frame[c]


def _layout(handle: Any, filename: str) -> tuple[Layout, dict[tuple[int, int], int]]:
    sizes = dict(handle.sizes)
    if sizes.get("S", 1) > 1 and sizes.get("C", 1) > 1:
        raise ImageReadError(f"{filename}: colour images with several channels are not supported")
    loops = handle.loop_indices
    others = sorted({axis for loop in loops for axis, value in loop.items() if axis not in "TZ" and value})
    if others:
        raise ImageReadError(
            f"{filename}: the file has {', '.join(others)} loops (for example several stage positions) "
            "besides z and time; export each position as its own file"
        )
    frames = {(loop.get("T", 0), loop.get("Z", 0)): number for number, loop in enumerate(loops)} or {
        (0, 0): 0
    }
    colour = sizes.get("S", 1) == 3
    names: list[str | None] = (
        [None] * 3 if colour else [c.channel.name for c in (handle.metadata.channels or [])]
    )
    if len(names) != sizes.get("C", 1) and not colour:
        names = [None] * sizes.get("C", 1)
    x, y, z = _voxel_size(handle)
    layout = Layout(
        format="nd2",
        width=int(sizes["X"]),
        height=int(sizes["Y"]),
        dtype=np.dtype(handle.dtype),
        channel_names=channel_names(names, colour=colour),
        size_z=sizes.get("Z", 1),
        size_t=sizes.get("T", 1),
        pixel_size_x=x,
        pixel_size_y=y,
        pixel_size_z=z,
    )
    if len(frames) != layout.planes:
        raise ImageReadError(f"{filename}: the file has {len(frames)} frames for {layout.planes} planes")
    return layout, frames


def _voxel_size(handle: Any) -> tuple[float | None, float | None, float | None]:
    """The calibration in micrometres, per axis only where the file says it is calibrated."""
    channels = handle.metadata.channels or []
    calibrated = channels[0].volume.axesCalibrated if channels else (False, False, False)
    size = handle.voxel_size()
    values = (size.x, size.y, size.z)
    return tuple(micrometres(v) if ok else None for v, ok in zip(values, calibrated, strict=True))  # type: ignore[return-value]
