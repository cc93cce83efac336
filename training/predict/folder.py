"""Predicting a folder of image files outside the app (`manage.py predict`).

Each readable file gives, under the output folder, a label image with the same stem (class
indices, TIFF or PNG), the instance map of the countable classes (`<stem>_instances.*`) and its
rows in one `measurements.csv` (one row per object, with the file's name and the model version).
Each file is written under a temporary name and renamed, so a stopped command leaves no half
file. A file that cannot be read, or lacks the model's channels, is reported and the rest go on.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
import torch

from labeling import imageio, labelmaps
from training.ml.measure import SHAPE_COLUMNS
from training.predict import pipeline

SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
FORMATS = {"tiff": ".tif", "png": ".png"}


@dataclass
class FolderResult:
    written: list[str] = field(default_factory=list)  # input file names
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)
    objects: int = 0


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, by name; ValueError (saying what to do) if none."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    files = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith(".")
    )
    if not files:
        raise ValueError(f"{folder} holds no {', '.join(SUFFIXES)} file")
    return files


def read_planes(path: Path, channels: Sequence[str], *, max_pixels: int) -> dict[str, np.ndarray]:
    """A file's planes named as the model's channels: a single-channel file for a one-channel
    model, else one page (or plane) per channel in the model's order."""
    names, planes = imageio.read_channels(path.read_bytes(), filename=path.name, max_pixels=max_pixels)
    if len(planes) != len(channels):
        raise ValueError(
            f"{path.name} has {len(planes)} channels ({', '.join(names)}); the model reads "
            f"{len(channels)} ({', '.join(channels)}): give one page per channel, in that order"
        )
    return dict(zip(channels, planes, strict=True))


def predict_folder(
    *,
    model: pipeline.Model,
    context: pipeline.Context,
    version_id: int,
    files: Sequence[Path],
    output: Path,
    device: torch.device,
    image_format: str = "tiff",
    pixel_size: tuple[float, float] | None = None,
    max_pixels: int,
    on_error: Callable[[str], None],
    progress: Callable[[Iterable[Path]], Iterable[Path]] = lambda files: files,
) -> FolderResult:
    output.mkdir(parents=True, exist_ok=True)
    intensity = [
        f"{kind}_intensity_{name}" for name in context.inputs.channels for kind in ("mean", "integrated")
    ]
    columns = ["image", "model_version", *SHAPE_COLUMNS, *intensity]
    result = FolderResult()
    stems: set[str] = set()
    csv_path = output / "measurements.csv"
    partial = csv_path.with_name(f".{csv_path.name}.writing")
    with partial.open("w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for path in progress(files):
            try:
                if path.stem in stems:
                    raise ValueError(f"another input is also called {path.stem}; its outputs would clash")
                stems.add(path.stem)
                planes = read_planes(path, context.inputs.channels, max_pixels=max_pixels)
                analysed = pipeline.analyse(model, planes, context, device=device, pixel_size=pixel_size)
            except (ValueError, OSError) as error:  # unreadable, or not the model's channels
                message = str(error) if path.name in str(error) else f"{path.name}: {error}"
                on_error(message)
                result.failed.append((path.name, message))
                continue
            _write_images(output, path.stem, analysed, image_format, countable=bool(context.countable))
            for row in analysed.table.rows:
                writer.writerow(
                    {
                        "image": path.name,
                        "model_version": version_id,
                        **dict(zip(analysed.table.columns, row, strict=True)),
                    }
                )
            result.written.append(path.name)
            result.objects += len(analysed.table.rows)
    os.replace(partial, csv_path)
    return result


def _write_images(
    output: Path, stem: str, analysed: pipeline.Result, image_format: str, *, countable: bool
) -> None:
    suffix = FORMATS[image_format]
    _write(output / f"{stem}{suffix}", _encode(analysed.label_map, suffix))
    if countable:
        instances = analysed.objects.instances
        fits_png = int(instances.max(initial=0)) <= pipeline.PNG_MAX_OBJECTS
        own = suffix if fits_png else ".tif"  # a PNG holds 16 bits at most
        _write(output / f"{stem}_instances{own}", _encode(instances, own))


def _encode(array: np.ndarray, suffix: str) -> bytes:
    """A label or instance map as PNG (8- or 16-bit) or zlib TIFF (8, 16 or 32-bit)."""
    if suffix == ".png":
        return labelmaps.encode_map(array)
    top = int(array.max(initial=0))
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.uint32
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array.astype(dtype), compression="zlib")
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.writing")
    partial.write_bytes(data)
    os.replace(partial, path)
