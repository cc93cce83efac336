"""overhead: our training loop against a bare segmentation-models-pytorch loop at equal steps."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from training.bench.common import describe, load_split, train_config
from training.bench.options import Commands, add_common
from training.ml.config import TrainConfig
from training.ml.data import Sample, normalize
from training.ml.loop import Trainer, choose_device
from training.ml.models import create_model


def add_command(commands: Commands) -> None:
    command = commands.add_parser("overhead", help="our loop vs a bare smp loop at equal steps")
    add_common(command)
    command.set_defaults(command=overhead)


def overhead(args: argparse.Namespace) -> dict[str, Any]:
    """Throughput of our Trainer vs a bare loop: same model, patches and number of steps."""
    train, test = load_split(args)
    config = train_config(args, in_channels=train[0].image.shape[0])
    device = choose_device()
    samples = [Sample(normalize(item.image), item.classes) for item in train]
    ours = Trainer(config, train=samples, validation=[], device=device)
    ours_seconds = timed(lambda: ours.fit())
    bare_seconds = timed(lambda: bare_loop(config, samples, device))
    return {
        "steps": config.steps,
        "ours_steps_per_second": round(config.steps / ours_seconds, 3),
        "bare_steps_per_second": round(config.steps / bare_seconds, 3),
        "overhead": round(ours_seconds / bare_seconds - 1, 4),
        "config": describe(args, config.to_dict(), train, test),
    }


def bare_loop(config: TrainConfig, samples: list[Sample], device: torch.device) -> None:
    """What a user would write by hand: random crops, cross-entropy, Adam. No extras."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = create_model(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    size = config.patch_size
    for _ in range(config.steps):
        xs, ys = [], []
        for _ in range(config.batch_size):
            sample = samples[int(rng.integers(len(samples)))]
            top = int(rng.integers(sample.image.shape[1] - size + 1))
            left = int(rng.integers(sample.image.shape[2] - size + 1))
            xs.append(torch.from_numpy(sample.image[:, top : top + size, left : left + size]))
            ys.append(torch.from_numpy(sample.target[top : top + size, left : left + size]))
        loss = torch.nn.functional.cross_entropy(
            model(torch.stack(xs).to(device)), torch.stack(ys).to(device)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started
