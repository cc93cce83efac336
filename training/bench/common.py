"""The steps several benchmark commands share: the split, the training config, training and
scoring one model, the ensemble of several seeds' models, and what a result says about how it was
made. The seeds' mean and spread are in seeds.py."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch
from tqdm import tqdm

from training.bench.datasets import Item, load_folder, split
from training.ml.config import TrainConfig
from training.ml.data import Sample, channel_ranges, normalize
from training.ml.inference import Prediction, predict
from training.ml.instances import separate_instances
from training.ml.loop import Callbacks, StepEvent, Trainer
from training.ml.metrics import confusion_matrix, object_scores, pixel_scores, ratios
from training.ml.scribbles import simulate_scribbles

# Writing results ---------------------------------------------------------------------------


def write_json(path: Path, result: dict[str, Any]) -> None:
    """Whole or not at all: a reader, or a run killed while writing, never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.writing")
    partial.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(partial, path)


def save_progress(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """What a long command has measured so far, in --out, marked "incomplete"; the finished
    result replaces it."""
    if args.out:
        write_json(args.out, {**result, "incomplete": True})


# Data, labels and config -------------------------------------------------------------------


def load_split(args: argparse.Namespace) -> tuple[list[Item], list[Item]]:
    items = load_folder(args.data, input_channel=args.input_channel)
    if args.test_data:
        return items, load_folder(args.test_data, input_channel=args.input_channel)
    test_count = len(items) // 2 if args.test_count is None else args.test_count  # 0 is refused, not half
    return split(items, test_count=test_count)


def train_config(args: argparse.Namespace, in_channels: int) -> TrainConfig:
    config = TrainConfig(
        in_channels=in_channels,
        num_classes=2,
        architecture=args.architecture,
        encoder=args.encoder,
        patch_size=args.patch_size,
        batch_size=args.batch_size,
        steps=args.steps,
        steps_per_epoch=max(1, args.steps // 5),
        learning_rate=args.learning_rate,
        warmup_steps=min(50, args.steps // 10),
        seed=args.seed,
        balance_classes=args.balance,
        weight_classes=args.class_weights,
        recompute_batch_norm=args.recompute_batch_norm,
        pairwise_weight=args.pairwise_weight,
        pairwise_sigma=args.pairwise_sigma,
        scale_range=args.scale_range,
        human_patch_fraction=args.human_patch_fraction,
        imaging_augmentation=args.imaging_augmentation,
    )
    if args.quick:
        config = config.replace(patch_size=64, batch_size=4, steps=20, steps_per_epoch=10, warmup_steps=2)
    return config


def normalizer(args: argparse.Namespace, train: list[Item]) -> Callable[[np.ndarray], np.ndarray]:
    """How images are scaled: by ranges fixed on the training images, or each by its own."""
    if args.normalization == "image":
        return normalize
    ranges = channel_ranges([item.image for item in train])
    return lambda image: normalize(image, ranges=ranges)


def training_target(item: Item, args: argparse.Namespace) -> np.ndarray:
    if args.labels == "dense":
        return item.classes
    return simulate_scribbles(
        item.classes, budget=args.scribble_budget, seed=args.seed, instances=item.instances
    )


def scribbled(args: argparse.Namespace, targets: list[np.ndarray]) -> dict[str, float]:
    """For scribble labels, the fraction of training pixels they label: the simulator's budget
    is a ceiling, reached only where there are enough objects to stroke."""
    return {"scribbled_fraction": scribbled_fraction(targets)} if args.labels == "scribbles" else {}


def scribbled_fraction(targets: list[np.ndarray]) -> float:
    return round(sum(int((t >= 0).sum()) for t in targets) / sum(t.size for t in targets), 5)


def sizes(args: argparse.Namespace, available: int) -> list[int]:
    wanted = [int(s) for s in args.sizes.split(",") if s.strip()]
    usable = [k for k in wanted if 1 <= k <= available]
    if not usable:
        raise SystemExit(f"none of the sizes {wanted} fits the {available} training images")
    return usable


# Scores ------------------------------------------------------------------------------------


def score(predictions: list[np.ndarray], test: list[Item], *, with_counts: bool = False) -> dict[str, Any]:
    """Pixel F1 / IoU of the object class over all test pixels; object F1 at IoU 0.5, pooled.

    "per_image" adds each test image's pixel scores and the fraction of its pixels that are
    objects, so a pooled number can be traced to the fields that make it. `with_counts` adds
    "counts", what the scores are made of, so that separate runs' scores can be pooled by adding
    them up (`scores_of`).
    """
    counts = score_counts(predictions, test)
    return {
        **scores_of(counts),
        **({"counts": counts} if with_counts else {}),
        "per_image": [image_score(p, item) for p, item in zip(predictions, test, strict=True)],
    }


def score_counts(predictions: list[np.ndarray], test: list[Item]) -> dict[str, int]:
    """The object class's pixel tp / fp / fn over all test pixels, and objects matched at IoU 0.5,
    predicted and true."""
    confusion = confusion_matrix(
        np.concatenate([p.ravel() for p in predictions]),
        np.concatenate([t.classes.ravel() for t in test]),
        num_classes=2,
    )
    counts = {"tp": int(confusion[1, 1]), "fp": int(confusion[1, 0]), "fn": int(confusion[0, 1])}
    counts |= {"matched": 0, "predicted": 0, "true": 0}
    for prediction, item in zip(predictions, test, strict=True):
        objects = object_scores(separate_instances(prediction == 1), item.instances)
        for key in ("matched", "predicted", "true"):
            counts[key] += int(objects[key])
    return counts


def scores_of(counts: dict[str, int]) -> dict[str, float]:
    """The scores `score` reports, from its counts (or from several runs' counts added up)."""
    pixels = ratios(counts["tp"], counts["fp"], counts["fn"])
    objects = counts["predicted"] + counts["true"]
    return {
        "pixel_f1": pixels["f1"],
        "iou": pixels["iou"],
        "object_f1": 2 * counts["matched"] / objects if objects else 1.0,
        "pixel_precision": pixels["precision"],
        "pixel_recall": pixels["recall"],
    }


def image_score(prediction: np.ndarray, item: Item) -> dict[str, Any]:
    pixels = pixel_scores(prediction, item.classes, num_classes=2)[1]
    return {
        "name": item.name,
        "object_fraction": round(float((item.classes == 1).mean()), 4),
        "pixel_f1": round(pixels["f1"], 4),
        "pixel_precision": round(pixels["precision"], 4),
        "pixel_recall": round(pixels["recall"], 4),
    }


# How a result was made ---------------------------------------------------------------------


def describe(
    args: argparse.Namespace, config: dict[str, Any], train: list[Item], test: list[Item]
) -> dict[str, Any]:
    return {
        **config,
        "data": str(args.data),
        "labels": args.labels,
        "scribble_budget": args.scribble_budget,
        "train_pool": [i.name for i in train],
        "test": [i.name for i in test],
        "quick": args.quick,
        # Only the commands that predict with a network have the option (the peer does not).
        "test_time_augmentation": getattr(args, "test_time_augmentation", False),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
    }


def machine() -> str:
    """The hardware a result was measured on, with the processor and the kernels torch picks for
    it: one seed and configuration scored 0.681 in one session and 0.678 in others, and results
    that named only "2 cores" could not say whether the processor differed."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return (
        f"{platform.machine()}, {processor()} ({torch.backends.cpu.get_cpu_capability()} kernels), "
        f"{psutil.cpu_count()} cores, {device}, torch {torch.__version__}"
    )


def processor() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def rss_mb(process: psutil.Process, *, children: bool = False) -> float:
    """The resident memory of `process` in MB, its children's counted in when `children`."""
    family = [process, *process.children(recursive=True)] if children else [process]
    return sum(member.memory_info().rss for member in family) / 2**20


@contextmanager
def peak_rss(
    pid: int | None = None, *, children: bool = False, every: float = 0.2
) -> Iterator[dict[str, float]]:
    """Samples the resident memory of process `pid` (this one by default) every `every` seconds
    while the block runs, and once more at its end; 'mb' holds the peak (see rss_mb)."""
    process = psutil.Process(pid)
    found, done = {"mb": rss_mb(process, children=children)}, threading.Event()

    def sample() -> None:
        while not done.is_set():
            found["mb"] = max(found["mb"], rss_mb(process, children=children))
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        done.set()
        sampler.join()
        found["mb"] = max(found["mb"], rss_mb(process, children=children))


@contextmanager
def progress(total: int, description: str, *, decimals: int = 3) -> Iterator[Callable[[StepEvent], None]]:
    """A progress bar on stderr and the training callback that moves it and shows the loss."""
    with tqdm(total=total, desc=description, file=sys.stderr, unit="step") as bar:

        def on_step(event: StepEvent) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{event.loss:.{decimals}f}")

        yield on_step


# One model, and several seeds of it -------------------------------------------------------


@dataclass
class Outcome:
    """One trained model's scores, and its object-class probabilities on each test image."""

    run: dict[str, Any]
    probabilities: list[np.ndarray]

    @classmethod
    def of(cls, run: dict[str, Any], outputs: list[Prediction]) -> Outcome:
        # Copies of the object plane, so the outputs' other planes are freed.
        return cls(run, [output.probabilities[1].copy() for output in outputs])


def efficiency_run(
    args: argparse.Namespace,
    config: TrainConfig,
    train: list[Item],
    test: list[Item],
    device: torch.device,
    *,
    initial_weights: dict[str, torch.Tensor] | None = None,
    name: str = "",
) -> Outcome:
    """Train on `train` (from `initial_weights` if given), score on `test`: one point of a curve."""
    prepare = normalizer(args, train)
    targets = [training_target(item, args) for item in train]
    samples = [Sample(prepare(item.image), target) for item, target in zip(train, targets, strict=True)]
    outputs, cost = fit_and_predict(
        args,
        config,
        samples,
        [prepare(item.image) for item in test],
        device,
        description=f"{name}{len(train)} image(s)",
        initial_weights=initial_weights,
    )
    run = {
        "train_images": len(train),
        "labels": args.labels,
        **scribbled(args, targets),
        **score([output.classes for output in outputs], test),
        **cost,
        "learning_rate": config.learning_rate,
        "freeze_encoder": config.freeze_encoder,
        "seed": config.seed,
    }
    print(json.dumps(run), file=sys.stderr)
    return Outcome.of(run, outputs)


def fit_and_predict(
    args: argparse.Namespace,
    config: TrainConfig,
    samples: list[Sample],
    test_images: list[np.ndarray],
    device: torch.device,
    *,
    description: str,
    initial_weights: dict[str, torch.Tensor] | None = None,
) -> tuple[list[Prediction], dict[str, Any]]:
    """Train on `samples` with a progress bar, predict the (normalised) test images as `args`
    ask; the predictions, and the training's wall time and the peak RSS of both."""
    with peak_rss() as memory:
        model, seconds = fit(
            config, samples, device, description=description, initial_weights=initial_weights
        )
        outputs = [
            predict(model, image, device=device, tile=512, augment=args.test_time_augmentation)
            for image in test_images
        ]
    return outputs, {"train_seconds": seconds, "peak_rss_mb": round(memory["mb"])}


def fit(
    config: TrainConfig,
    samples: list[Sample],
    device: torch.device,
    *,
    description: str,
    initial_weights: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.nn.Module, float]:
    """A model of `config` trained on `samples` with a progress bar, and the training's seconds."""
    started = time.perf_counter()
    with progress(config.steps, description) as on_step:
        result = Trainer(
            config,
            train=samples,
            validation=[],
            device=device,
            callbacks=Callbacks(on_step=on_step),
            initial_weights=initial_weights,
        ).fit()
    return result.model, round(time.perf_counter() - started, 1)


def ensemble_run(outcomes: list[Outcome], test: list[Item]) -> dict[str, Any]:
    """The models' object-class probabilities averaged per pixel, called above 0.5, scored."""
    predictions = [
        (np.mean([outcome.probabilities[i] for outcome in outcomes], axis=0) > 0.5).astype(np.int64)
        for i in range(len(test))
    ]
    first = outcomes[0].run
    return {
        "train_images": first["train_images"],
        "labels": first["labels"],
        **{key: first[key] for key in ("scribbled_fraction",) if key in first},
        "ensemble_of_seeds": [outcome.run["seed"] for outcome in outcomes],
        **score(predictions, test),
        "train_seconds": round(sum(outcome.run["train_seconds"] for outcome in outcomes), 1),
        "peak_rss_mb": max(outcome.run["peak_rss_mb"] for outcome in outcomes),
    }
