"""`prediction-memory`: how much memory scoring one large image takes, as the score worker does it.

The score actor normalises an image's channels to float32 and runs the tiled `predict` (512-px
tiles, batches of 4). This sub-command does the same with a real network on a generated image of
the asked size, and reports the process's peak resident memory (torch and the model included, what
a worker really needs) and the growth over what it held just before the image existed (what the
image itself costs). The image's content does not change the memory; its size and channels do.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from typing import Any

import numpy as np
import psutil

from training.bench.common import machine, rss_mb
from training.bench.options import Commands, add_quick_and_out
from training.ml.config import TrainConfig
from training.ml.inference import predict
from training.ml.loop import choose_device
from training.ml.models import create_model


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "prediction-memory", help="peak memory of tiled prediction on one large generated image"
    )
    command.add_argument("--size", type=int, default=4096, help="image side in pixels")
    command.add_argument("--channels", type=int, default=1)
    command.add_argument("--classes", type=int, default=2)
    command.add_argument("--architecture", default="unet")
    command.add_argument("--encoder", default="resnet18")
    command.add_argument("--tile", type=int, default=512)
    command.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass")
    add_quick_and_out(command, quick="smoke run on a 512-px image")
    command.set_defaults(command=prediction_memory)


def prediction_memory(args: argparse.Namespace) -> dict[str, Any]:
    size = 512 if args.quick else args.size
    device = choose_device("auto")
    config = TrainConfig(
        in_channels=args.channels,
        num_classes=args.classes,
        architecture=args.architecture,
        encoder=args.encoder,
    )
    model = create_model(config).to(device).eval()
    # What a worker holds before it reads an image: Python, torch, the model.
    gc.collect()
    before_mb = rss_mb(psutil.Process())
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    image = rng.random((args.channels, size, size), dtype=np.float32)
    result = predict(model, image, device=device, tile=args.tile, batch_size=args.batch_size)
    seconds = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    assert result.classes.shape == (size, size)
    print(
        f"{size}x{size}x{args.channels}: peak {peak_mb:.0f} MB "
        f"(+{peak_mb - before_mb:.0f} MB over {before_mb:.0f} MB before the image), {seconds:.1f} s"
    )
    return {
        "image": {"height": size, "width": size, "channels": args.channels},
        "peak_rss_mb": round(peak_mb),
        "before_image_mb": round(before_mb),
        "image_cost_mb": round(peak_mb - before_mb),
        "input_mb": round(image.nbytes / 2**20),
        "seconds": round(seconds, 1),
        "config": {
            "architecture": args.architecture,
            "encoder": args.encoder,
            "classes": args.classes,
            "tile": args.tile,
            "batch_size": args.batch_size,
            "device": device.type,
            "quick": args.quick,
            "machine": machine(),
        },
    }


def _peak_rss_mb() -> float:
    """The process's high-water mark of resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
