"""gpu-check: the app's CUDA path, checked in a few minutes whenever a GPU is lent.

The app's own segmentation Trainer trains for a few hundred steps of the app's default patches
(8 x 256 x 256) with its mixed precision on CUDA (TrainConfig.amp: bf16 autocast), on generated
fields or --data. The test fields are then predicted on CUDA by the tiled `predict` every
prediction job runs (bf16 autocast too), and again on the CPU in float32 by the same weights,
loaded as a worker loads a model version: the largest difference of any probability and the
share of pixels whose class agrees say whether the CUDA path gives the CPU's answers. Prints
steps/s, the peak GPU memory of training and of prediction, and the comparison as a table (on
stderr); the JSON with --out.

bf16 needs no GradScaler: it has float32's exponent range, so small gradients do not underflow
to zero as they do in fp16, which is what a GradScaler's loss scaling guards against.

Without CUDA it says so and exits 0, writing nothing, so an earlier GPU's result in --out stays.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labeling.synthetic import synthetic_field
from training.bench.common import machine, progress, score
from training.bench.datasets import Item, load_folder, split
from training.bench.options import Commands
from training.ml import checkpoint as ckpt
from training.ml.config import TrainConfig
from training.ml.data import Sample, channel_ranges, normalize
from training.ml.inference import Prediction, predict
from training.ml.loop import Callbacks, StepEvent, Trainer, choose_device
from training.ml.models import create_model

TILE = 512  # PREDICTION_TILE_SIZE's default
WARM_UP_STEPS = 20  # left out of the steady rate: cuDNN picks its kernels, the allocator grows


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "gpu-check", help="mixed-precision training and prediction on CUDA, compared with the CPU"
    )
    command.add_argument("--data", type=Path, help="a data set folder (default: generated fields)")
    command.add_argument("--input-channel", default=None, help="channel folder, e.g. brightfield")
    command.add_argument("--test-count", type=int, default=2, help="fields predicted on both devices")
    command.add_argument("--steps", type=int, default=300)
    command.add_argument("--patch-size", type=int, default=TrainConfig.patch_size)
    command.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    command.add_argument("--out", type=Path, help="write the JSON result here (not written when skipped)")
    command.set_defaults(command=gpu_check)


def gpu_check(args: argparse.Namespace) -> dict[str, Any]:
    if not torch.cuda.is_available():
        print(
            f"no CUDA device: skipped (torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda or 'none'}, sees no GPU); run it again where a GPU is lent"
        )
        raise SystemExit(0)
    started = time.perf_counter()
    device = choose_device("cuda")
    torch.zeros(1, device=device)
    torch.cuda.synchronize()
    cuda_start = time.perf_counter() - started
    train, test = fields(args)
    ranges = channel_ranges([item.image for item in train])
    samples = [Sample(normalize(item.image, ranges=ranges), item.classes) for item in train]
    config = TrainConfig(
        in_channels=train[0].image.shape[0],
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        steps=args.steps,
        steps_per_epoch=args.steps,
    )
    model, training = train_on(config, samples, device)
    images = [normalize(item.image, ranges=ranges) for item in test]
    torch.cuda.reset_peak_memory_stats()
    on_cuda, cuda_seconds = timed_predictions(model, images, device)
    prediction_peak = torch.cuda.max_memory_allocated(device) / 2**20
    on_cpu, cpu_seconds = timed_predictions(cpu_copy(model, config), images, torch.device("cpu"))
    megapixels = sum(image.shape[1] * image.shape[2] for image in images) / 1e6
    result = {
        "device": torch.cuda.get_device_name(device),
        "cuda_start_seconds": round(cuda_start, 2),
        "mixed_precision": "bf16 autocast" if config.amp else "off",
        **training,
        "predict_peak_gpu_mb": round(prediction_peak),
        "predict_megapixels_per_second": {
            "cuda": round(megapixels / cuda_seconds, 2),
            "cpu": round(megapixels / cpu_seconds, 2),
        },
        "cuda_vs_cpu": compare(on_cuda, on_cpu),
        "pixel_f1": {
            "cuda": round(score([p.classes for p in on_cuda], test)["pixel_f1"], 4),
            "cpu": round(score([p.classes for p in on_cpu], test)["pixel_f1"], 4),
        },
        "total_seconds": round(time.perf_counter() - started, 1),
        "config": describe_check(args, config, train, test),
    }
    print(table(result), file=sys.stderr)
    return result


def fields(args: argparse.Namespace) -> tuple[list[Item], list[Item]]:
    """The training and test fields: --data's, or six generated 512-px brightfield fields."""
    if args.data:
        return split(load_folder(args.data, input_channel=args.input_channel), test_count=args.test_count)
    generated = [synthetic_field(seed=n, height=512, width=512, nuclei=40) for n in range(6)]
    items = [Item(f"g{n}", field.brightfield[None], field.instances) for n, field in enumerate(generated)]
    return split(items, test_count=args.test_count)


def train_on(
    config: TrainConfig, samples: list[Sample], device: torch.device
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The app's Trainer on `device`: the trained model, and its rates, losses and peak GPU memory."""
    torch.cuda.reset_peak_memory_stats()
    ticks: list[float] = []
    losses: list[float] = []
    with progress(config.steps, "training on CUDA") as bar:

        def on_step(event: StepEvent) -> None:
            ticks.append(time.perf_counter())  # the step's loss was read back, so it has run
            losses.append(event.loss)
            bar(event)

        trained = Trainer(
            config, train=samples, validation=[], device=device, callbacks=Callbacks(on_step=on_step)
        ).fit()
    warm = min(WARM_UP_STEPS, len(ticks) // 5)
    steady = (len(ticks) - warm) / (ticks[-1] - ticks[warm - 1]) if warm else len(ticks) / trained.seconds
    ten = max(1, len(losses) // 10)
    return trained.model.eval(), {
        "steps": trained.steps,
        "train_seconds": round(trained.seconds, 1),
        "steps_per_second": round(trained.steps / trained.seconds, 2),
        "steady_steps_per_second": round(steady, 2),
        "train_peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 2**20),
        # Means of the first and last tenth of the steps: the loss must fall under mixed precision.
        "first_loss": round(float(np.mean(losses[:ten])), 4),
        "last_loss": round(float(np.mean(losses[-ten:])), 4),
    }


def cpu_copy(model: torch.nn.Module, config: TrainConfig) -> torch.nn.Module:
    """The trained weights in a fresh network on the CPU, as a worker loads a model version's."""
    copy = create_model(config)
    copy.load_state_dict(ckpt.cpu_state(model))
    return copy.eval()


def timed_predictions(
    model: torch.nn.Module, images: list[np.ndarray], device: torch.device, *, tile: int = TILE
) -> tuple[list[Prediction], float]:
    """Each image through the tiled `predict` on `device` (after one warm-up image), and the seconds."""
    model = model.to(device).eval()
    predict(model, images[0], device=device, tile=tile)
    started = time.perf_counter()
    predictions = [predict(model, image, device=device, tile=tile) for image in images]
    return predictions, time.perf_counter() - started


def compare(first: list[Prediction], second: list[Prediction]) -> dict[str, float]:
    """How far two devices' predictions of the same images are apart: the largest difference of
    any class probability, and the share of pixels given the same class (over all images)."""
    if len(first) != len(second) or not first:
        raise ValueError(
            f"compare needs the same images from both devices, not {len(first)} and {len(second)}"
        )
    largest = max(
        float(np.abs(a.probabilities - b.probabilities).max()) for a, b in zip(first, second, strict=True)
    )
    same = sum(int((a.classes == b.classes).sum()) for a, b in zip(first, second, strict=True))
    pixels = sum(a.classes.size for a in first)
    return {"max_abs_probability_difference": round(largest, 6), "pixel_agreement": round(same / pixels, 6)}


def describe_check(
    args: argparse.Namespace, config: TrainConfig, train: list[Item], test: list[Item]
) -> dict[str, Any]:
    return {
        **config.to_dict(),
        "data": str(args.data) if args.data else "generated (6 fields of 512 x 512)",
        "train_pool": [item.name for item in train],
        "test": [item.name for item in test],
        "tile": TILE,
        "machine": machine(),
    }


def table(result: dict[str, Any]) -> str:
    comparison, rates = result["cuda_vs_cpu"], result["predict_megapixels_per_second"]
    rows = [
        ("device", result["device"]),
        ("CUDA start-up", f"{result['cuda_start_seconds']} s"),
        ("mixed precision", result["mixed_precision"]),
        (
            "training steps/s (all / after warm-up)",
            f"{result['steps_per_second']} / {result['steady_steps_per_second']}",
        ),
        ("peak GPU memory, training", f"{result['train_peak_gpu_mb']} MB"),
        ("peak GPU memory, prediction", f"{result['predict_peak_gpu_mb']} MB"),
        (
            "prediction MP/s (CUDA / CPU)",
            f"{rates['cuda']} / {rates['cpu']}",
        ),
        ("max |p_CUDA - p_CPU|", f"{comparison['max_abs_probability_difference']:.6f}"),
        ("pixels of the same class", f"{comparison['pixel_agreement']:.4%}"),
        ("pixel F1 (CUDA / CPU)", f"{result['pixel_f1']['cuda']} / {result['pixel_f1']['cpu']}"),
        ("total", f"{result['total_seconds']} s"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)
