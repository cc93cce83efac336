"""One image through a model version: class map, uncertainty, objects, measurements, and files.

No Django here: a prediction job (training/scoring.py stores what this makes), the `predict`
command and the `predict-throughput` benchmark run exactly these steps, so the benchmark measures
what a job does. Memory stays bounded on large fields: the tiled `predict` holds the (K, H, W)
probabilities and one batch of tiles; objects are split per component (training/ml/instances.py).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tifffile
import torch
from torch import nn

from labeling import imageio, labelmaps
from training.ml.data import normalize
from training.ml.forest_model import ForestModel
from training.ml.inference import Prediction, predict
from training.ml.measure import Objects, Table, count_objects, measure
from training.runs.spec import VersionInputs

PNG_MAX_OBJECTS = 65535  # instance maps past this are written as 32-bit TIFF

Model = nn.Module | ForestModel  # what a model version predicts with: a network or a random forest


@dataclass(frozen=True)
class Context:
    """What turning an image's pixels into results needs besides the network itself."""

    inputs: VersionInputs
    countable: tuple[int, ...]  # class indices whose objects are counted and measured
    class_names: dict[int, str]
    tile: int = 512
    batch_size: int = 4
    min_object_size: int = 8

    def __post_init__(self) -> None:
        if self.tile % 32:
            raise ValueError(f"the tile size {self.tile} must be a multiple of 32 (PREDICTION_TILE_SIZE)")


@dataclass(frozen=True)
class Result:
    label_map: np.ndarray  # (H, W) uint16 class indices
    entropy: np.ndarray  # (H, W) float32, 0..1
    uncertainty: float
    objects: Objects
    table: Table


def model_input(planes: Mapping[str, np.ndarray], inputs: VersionInputs) -> np.ndarray:
    """The normalised (C, H, W) float32 input: the version's channels scaled by its ranges."""
    missing = [name for name in inputs.channels if name not in planes]
    if missing:
        raise ValueError(
            f"the model reads the channels {', '.join(inputs.channels)}; this image has no "
            f"{', '.join(missing)} (it has {', '.join(planes) or 'none'})"
        )
    return normalize(np.stack([planes[name] for name in inputs.channels]), ranges=inputs.ranges)


def analyse(
    model: Model,
    planes: Mapping[str, np.ndarray],
    context: Context,
    *,
    device: torch.device,
    pixel_size: tuple[float, float] | None = None,
) -> Result:
    """Predict one image and measure its objects.

    Shape: planes {channel name: (H, W) original pixels}, every channel of the image (each one is
    measured; the model reads its own) -> Result of (H, W) maps.
    """
    predicted = probabilities(model, model_input(planes, context.inputs), context, device=device)
    label_map = np.asarray(context.inputs.classes, dtype=np.uint16)[predicted.classes]
    objects = count_objects(label_map, context.countable, min_size=context.min_object_size)
    table = measure(objects, planes, class_names=context.class_names, pixel_size=pixel_size)
    return Result(label_map, predicted.entropy, predicted.uncertainty, objects, table)


def probabilities(model: Model, x: np.ndarray, context: Context, *, device: torch.device) -> Prediction:
    """A forest's per-pixel probabilities (on the CPU, row block by row block), or a network's tiled
    prediction on `device`. Shape: x (C, H, W) normalised -> Prediction of (K, H, W) / (H, W)."""
    if isinstance(model, ForestModel):
        return model.predict(x)
    return predict(
        model,
        x,
        device=device,
        tile=context.tile,
        batch_size=context.batch_size,
        augment=context.inputs.test_time_augmentation,
    )


@dataclass(frozen=True)
class Encoded:
    """A result's files: what a job stores and the `predict` command writes."""

    mask: bytes  # PNG, values are class indices
    uncertainty: bytes  # 8-bit PNG, 255 = cannot tell the classes apart
    instances: bytes | None  # None without countable classes
    instances_suffix: str  # ".png" (16-bit) or ".tif" (32-bit, past 65535 objects)
    measurements: bytes  # JSON {"columns": [...], "rows": [[...], ...]}


def encode(result: Result, *, countable: bool) -> Encoded:
    instances, suffix = None, ".png"
    if countable:
        instances, suffix = encode_instances(result.objects.instances)
    return Encoded(
        mask=labelmaps.encode_map(result.label_map),
        uncertainty=imageio.encode_png(np.clip(result.entropy * 255.0 + 0.5, 0, 255).astype(np.uint8)),
        instances=instances,
        instances_suffix=suffix,
        measurements=table_json(result.table),
    )


def encode_instances(instances: np.ndarray) -> tuple[bytes, str]:
    """An instance map as a 16-bit PNG, or a 32-bit TIFF when it has more objects than that holds."""
    if int(instances.max(initial=0)) <= PNG_MAX_OBJECTS:
        return labelmaps.encode_map(instances.astype(np.uint16)), ".png"
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, instances.astype(np.uint32), compression="zlib")
    return buffer.getvalue(), ".tif"


def decode_instances(data: bytes) -> np.ndarray:
    """An instance map written by `encode_instances`. Shape: -> (H, W) uint32."""
    if imageio.sniff_format(data[:8]) == "tiff":
        return np.asarray(tifffile.imread(io.BytesIO(data))).astype(np.uint32)
    return labelmaps.decode_png_map(data, what="instance map").astype(np.uint32)


def table_json(table: Table) -> bytes:
    return json.dumps({"columns": table.columns, "rows": table.rows}, separators=(",", ":")).encode()


def table_from_json(data: bytes) -> Table:
    parsed = json.loads(data)
    return Table(list(parsed["columns"]), list(parsed["rows"]))


def csv_lines(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """A header and one CSV line per row (rows by column name; missing and None cells empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    yield _take(buffer)
    for row in rows:
        writer.writerow(row)
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
