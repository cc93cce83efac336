"""`predict-throughput`: how fast a prediction job gets through real fields, against the network alone.

Each field goes through exactly what a prediction job does to an image (training/predict/pipeline.py):
read and decode the file, normalise, the tiled prediction (blending, softmax, class map, entropy),
objects of the countable class split apart and measured, the files encoded and written (to a
temporary folder here: the job's storage, without its database row). The baseline is a bare
segmentation-models-pytorch forward pass over the same tiles, already stacked on the device, in
the same run: `overhead` is how much longer the job takes than that. Peak RSS is sampled while the
job's pass runs (torch and the model included: what a worker holds).

The network is trained briefly on the data's own nucleus masks first, so that its objects (and so
the cost of splitting and measuring them) look like a real model's.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image as PILImage
from tqdm import tqdm

from labeling import imageio
from labeling.synthetic import synthetic_field
from training.bench.common import peak_rss
from training.ml.config import TrainConfig
from training.ml.data import Sample, channel_ranges, normalize
from training.ml.inference import tile_starts
from training.ml.loop import Trainer, choose_device
from training.predict import pipeline
from training.runs.spec import VersionInputs

CLASSES = (1, 2)  # label-map values: background, nucleus (countable)
OVERLAP = 64  # as training/ml/inference.py's predict


def add_command(commands: Any) -> None:
    command = commands.add_parser(
        "predict-throughput", help="a prediction job's megapixels per second against a bare forward pass"
    )
    command.add_argument("--data", type=Path, default=Path("../shared/data/aisegcell"))
    command.add_argument("--input-channel", default="brightfield", help="channel folder to predict")
    command.add_argument("--masks", default="nuclei", help="folder of 0/255 masks the brief training uses")
    command.add_argument("--limit", type=int, help="only N fields: the first by name, or with --largest")
    command.add_argument("--largest", action="store_true", help="the largest fields rather than the first")
    command.add_argument("--train-steps", type=int, default=150, help="brief training before timing")
    command.add_argument("--architecture", default="unet")
    command.add_argument("--encoder", default="resnet18")
    command.add_argument("--tile", type=int, default=512, help="PREDICTION_TILE_SIZE")
    command.add_argument("--batch-size", type=int, default=4, help="PREDICTION_TILE_BATCH")
    command.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    command.add_argument("--quick", action="store_true", help="smoke run on generated fields")
    command.add_argument("--out", type=Path, help="write the JSON result here")
    command.set_defaults(command=predict_throughput)


def predict_throughput(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="predict-throughput-") as scratch:
        data = generated_data(Path(scratch) / "data") if args.quick else args.data
        files = field_files(data, args.input_channel, args.limit or (3 if args.quick else None), args.largest)
        device = choose_device(args.device)
        model, ranges = brief_model(args, data, files[:2], device)
        context = pipeline.Context(
            inputs=VersionInputs(
                channels=(args.input_channel,), classes=CLASSES, ranges=ranges, test_time_augmentation=False
            ),
            countable=(CLASSES[1],),
            class_names={1: "background", 2: "nucleus"},
            tile=128 if args.quick else args.tile,
            batch_size=args.batch_size,
        )
        job_pass(model, context, files[:1], device, Path(scratch) / "warm-up")  # cuDNN, allocator
        bare_pass(model, context, files[:1], device)
        job = job_pass(model, context, files, device, Path(scratch) / "out")
        bare = bare_pass(model, context, files, device)
    megapixels = job["pixels"] / 1e6
    result = {
        "images": len(files),
        "megapixels": round(megapixels, 2),
        "seconds": round(job["seconds"], 2),
        "megapixels_per_second": round(megapixels / job["seconds"], 3),
        "bare_megapixels_per_second": round(megapixels / bare["seconds"], 3),
        "overhead": round(job["seconds"] / bare["seconds"] - 1, 3),
        "peak_rss_mb": round(job["peak_rss_mb"]),
        "largest_field": job["largest"],
        "objects": job["objects"],
        "stage_seconds": {name: round(value, 2) for name, value in job["stages"].items()},
        "bare_seconds": round(bare["seconds"], 2),
        "tiles": bare["tiles"],
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "config": {
            "architecture": args.architecture,
            "encoder": args.encoder,
            "tile": context.tile,
            "batch_size": context.batch_size,
            "train_steps": 3 if args.quick else args.train_steps,
        },
        "data": "generated" if args.quick else str(args.data),
    }
    print(
        f"{result['images']} fields, {result['megapixels']} MP: job {result['megapixels_per_second']} MP/s, "
        f"bare forward {result['bare_megapixels_per_second']} MP/s, overhead {result['overhead']:.1%}, "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    return result


def field_files(data: Path, channel: str, limit: int | None, largest: bool = False) -> list[Path]:
    folder = data / channel
    files = sorted(path for path in folder.glob("*") if path.suffix.lower() in (".png", ".tif", ".tiff"))
    if not files:
        raise SystemExit(f"{folder} holds no PNG or TIFF fields (see ../shared/data/README.md)")
    if largest:
        files = sorted(files, key=lambda path: (-_pixels(path), path.name))
    return sorted(files[:limit]) if limit else files


def _pixels(path: Path) -> int:
    with PILImage.open(path) as image:  # reads the header only
        return int(image.width * image.height)


def generated_data(root: Path) -> Path:
    """Three 256-px synthetic fields in the aisegcell layout (brightfield/ + nuclei/)."""
    for sub in ("brightfield", "nuclei"):
        (root / sub).mkdir(parents=True)
    for n in range(3):
        field = synthetic_field(seed=n, height=256, width=256, nuclei=12)
        PILImage.fromarray(field.brightfield).save(root / "brightfield" / f"g{n}.png")
        PILImage.fromarray((field.mask > 0).astype(np.uint8) * 255).save(root / "nuclei" / f"g{n}.png")
    return root


def read_plane(path: Path) -> np.ndarray:
    _, planes = imageio.read_channels(path.read_bytes(), filename=path.name, max_pixels=2**31)
    return planes[0]


def brief_model(
    args: argparse.Namespace, data: Path, files: list[Path], device: torch.device
) -> tuple[torch.nn.Module, list[tuple[float, float]]]:
    """A network trained for a few steps on the first fields' masks, and its channel ranges."""
    images = [read_plane(path)[None] for path in files]
    ranges = channel_ranges(images)
    samples = [
        Sample(
            normalize(image, ranges=ranges), (read_plane(data / args.masks / path.name) > 0).astype(np.int64)
        )
        for image, path in zip(images, files, strict=True)
    ]
    quick = args.quick
    config = TrainConfig(
        architecture=args.architecture,
        encoder=args.encoder,
        patch_size=64 if quick else 256,
        batch_size=4,
        steps=3 if quick else args.train_steps,
        steps_per_epoch=3 if quick else args.train_steps,
        warmup_steps=1 if quick else 20,
    )
    model = Trainer(config, train=samples, validation=[], device=device).fit().model.eval()
    del samples, images
    gc.collect()
    return model, ranges


def job_pass(
    model: torch.nn.Module, context: pipeline.Context, files: list[Path], device: torch.device, out: Path
) -> dict[str, Any]:
    """Every field through the job's steps, timed as a whole and by stage."""
    out.mkdir(parents=True, exist_ok=True)
    stages = {"read": 0.0, "analyse": 0.0, "encode": 0.0, "store": 0.0}
    pixels = objects = 0
    largest = (0, 0)
    channel = context.inputs.channels[0]
    with peak_rss(every=0.01) as peak:
        started = time.perf_counter()
        for path in tqdm(files, desc="job", unit="field"):
            mark = time.perf_counter()
            planes = {channel: read_plane(path)}
            stages["read"] += _lap(mark)
            mark = time.perf_counter()
            result = pipeline.analyse(model, planes, context, device=device)
            stages["analyse"] += _lap(mark)
            mark = time.perf_counter()
            encoded = pipeline.encode(result, countable=True)
            stages["encode"] += _lap(mark)
            mark = time.perf_counter()
            _store(out, path.stem, encoded)
            stages["store"] += _lap(mark)
            height, width = result.label_map.shape
            pixels += height * width
            largest = max(largest, (height, width))
            objects += result.objects.count
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "pixels": pixels,
        "objects": objects,
        "largest": list(largest),
        "stages": stages,
        "peak_rss_mb": peak["mb"],
    }


def _lap(mark: float) -> float:
    return time.perf_counter() - mark


def _store(out: Path, stem: str, encoded: pipeline.Encoded) -> None:
    (out / f"{stem}.png").write_bytes(encoded.mask)
    (out / f"{stem}-uncertainty.png").write_bytes(encoded.uncertainty)
    (out / f"{stem}-measurements.json").write_bytes(encoded.measurements)
    if encoded.instances is not None:
        (out / f"{stem}-instances{encoded.instances_suffix}").write_bytes(encoded.instances)


@torch.no_grad()
def bare_pass(
    model: torch.nn.Module, context: pipeline.Context, files: list[Path], device: torch.device
) -> dict[str, Any]:
    """The network alone over the tiles the job's prediction cuts (stacked on the device first)."""
    seconds, tiles = 0.0, 0
    channel = context.inputs.channels[0]
    for path in tqdm(files, desc="bare", unit="field"):
        x = pipeline.model_input({channel: read_plane(path)}, context.inputs)
        batches = [batch.to(device) for batch in tile_batches(x, context.tile, context.batch_size)]
        tiles += sum(len(batch) for batch in batches)
        _synchronize(device)
        started = time.perf_counter()
        for batch in batches:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                model(batch)
        _synchronize(device)
        seconds += time.perf_counter() - started
    return {"seconds": seconds, "tiles": tiles}


def tile_batches(image: np.ndarray, tile: int, batch_size: int) -> list[torch.Tensor]:
    """The tiles training/ml/inference.py cuts from an image, in batches. Shape: (C, H, W) ->
    batches of (B, C, tile, tile)."""
    height, width = image.shape[1:]
    pad_h, pad_w = max(height, tile) - height, max(width, tile) - width
    padded = np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect") if pad_h or pad_w else image
    ys = tile_starts(padded.shape[1], tile, tile - OVERLAP)
    xs = tile_starts(padded.shape[2], tile, tile - OVERLAP)
    boxes = [(y, x) for y in ys for x in xs]
    return [
        torch.from_numpy(
            np.stack([padded[:, y : y + tile, x : x + tile] for y, x in boxes[start : start + batch_size]])
        )
        for start in range(0, len(boxes), batch_size)
    ]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
