"""python -m training.bench: measure the learning core on real data (not a test).

  label-efficiency  train on the first k images for each k, score on the test images
  peer              the same with the random-forest "trainable segmentation" peer
  overhead          our training loop against a bare segmentation-models-pytorch loop
  live-latency      WebSocket event latency from a real worker, and the cost of live progress
  prediction-memory peak memory of tiled prediction on one large image (4096x4096 by default)
  predict-throughput  a prediction job's throughput (read, predict, count, measure, store) vs bare smp
  weak-tags         a U-Net from tile tags only (Score-CAM pseudo-masks) against dense labels
  fluorescence-teacher  a brightfield model on fluorescence pseudo-masks against ground truth
  pretraining       the label-efficiency curve with and without self-supervised pretraining
  preview-latency   time from a stroke saved through the API to its instant preview on the socket
  self-training     retrain on the test images labelled by the previous model's confident calls

Each prints progress bars and writes JSON with --out. The commands that train several models
write what they have after each one, marked "incomplete", so a run stopped part way keeps it.
Results and commands: bench/README.md.
"""

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

from training.bench import live as live_bench
from training.bench import memory as memory_bench
from training.bench import predict as predict_bench
from training.bench import pretraining as pretraining_bench
from training.bench import preview as preview_bench
from training.bench import selftraining as selftraining_bench
from training.bench import teacher as teacher_bench
from training.bench import weaktags as weaktags_bench
from training.bench.datasets import Item, load_folder, split
from training.ml.config import TrainConfig
from training.ml.data import Sample, channel_ranges, normalize
from training.ml.inference import Prediction, predict
from training.ml.instances import separate_instances
from training.ml.loop import Callbacks, StepEvent, Trainer, choose_device
from training.ml.metrics import object_scores, pixel_scores
from training.ml.peer import PeerConfig, fit_peer, predict_peer
from training.ml.scribbles import simulate_scribbles


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result = args.command(args)
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}", file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0


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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m training.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(required=True)
    for name, function, help_text in (
        ("label-efficiency", label_efficiency, "our model: score against the number of labelled images"),
        ("peer", peer, "the random-forest peer on the same split and labels"),
        ("overhead", overhead, "our loop vs a bare smp loop at equal steps"),
    ):
        command = commands.add_parser(name, help=help_text)
        add_common(command)
        command.set_defaults(command=function)
        if name == "label-efficiency":
            add_seeds(command)
            add_prediction(command)
    live_bench.add_command(commands)
    memory_bench.add_command(commands)
    predict_bench.add_command(commands)
    pretraining_bench.add_command(commands)
    preview_bench.add_command(commands)
    selftraining_bench.add_command(commands)
    teacher_bench.add_command(commands)
    weaktags_bench.add_command(commands)
    return top


def add_common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--data", type=Path, required=True, help="data set folder (../shared/data/...)")
    test = command.add_mutually_exclusive_group()
    test.add_argument("--test-data", type=Path, help="a separate folder of test images")
    test.add_argument("--test-count", type=int, help="score on the last N images by name (default: half)")
    command.add_argument("--input-channel", default=None, help="channel folder, e.g. brightfield")
    command.add_argument("--sizes", default="1,4,8,16", help="training set sizes, e.g. 1,4,8,16")
    command.add_argument("--labels", choices=("dense", "scribbles"), default="dense")
    command.add_argument("--scribble-budget", type=float, default=0.05, help="fraction of pixels scribbled")
    command.add_argument("--architecture", default="unet")
    command.add_argument("--encoder", default="resnet18")
    command.add_argument("--patch-size", type=int, default=128)
    command.add_argument("--batch-size", type=int, default=16)
    command.add_argument("--steps", type=int, default=500)
    command.add_argument("--learning-rate", type=float, default=2e-3)
    command.add_argument("--seed", type=int, default=0)
    command.add_argument(
        "--normalization",
        choices=("dataset", "image"),
        default="dataset",
        help="fixed channel ranges from the training images (as the app does), or each image's own",
    )
    command.add_argument(
        "--balance",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="patches centred on each class equally often",
    )
    command.add_argument(
        "--class-weights",
        action=argparse.BooleanOptionalAction,
        default=TrainConfig.weight_classes,
        help="weight the loss by inverse square-root class frequency (the default before 2026-12-01)",
    )
    command.add_argument(
        "--recompute-batch-norm",
        action=argparse.BooleanOptionalAction,
        default=TrainConfig.recompute_batch_norm,
        help="measure batch-norm statistics on tiles covering the training images when training ends",
    )
    command.add_argument(
        "--pairwise-weight",
        type=float,
        default=TrainConfig.pairwise_weight,
        help="weight of the pairwise (CRF) term on patches with unknown pixels",
    )
    command.add_argument(
        "--pairwise-sigma",
        type=float,
        default=TrainConfig.pairwise_sigma,
        help="intensity difference (normalised units) below which neighbours should share a class",
    )
    command.add_argument(
        "--scale-range",
        type=scale_range,
        default=TrainConfig.scale_range,
        help="LOW,HIGH: patches are zoomed by a factor drawn from this range (objects of other sizes)",
    )
    command.add_argument(
        "--human-patch-fraction",
        type=float,
        default=TrainConfig.human_patch_fraction,
        help="share of label-centred patches centred on human labels where derived ones fill the rest",
    )
    command.add_argument("--quick", action="store_true", help="smoke run: few steps, small patches")
    command.add_argument("--out", type=Path, help="write the JSON result here")


def scale_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW,HIGH (for example 0.5,2)") from None
    return low, high


def add_prediction(command: argparse.ArgumentParser) -> None:
    """Options of how the commands that train a network predict the test images with it."""
    command.add_argument(
        "--test-time-augmentation",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="predict each test image as the mean over its 8 rotations and mirror images (8x the time)",
    )


def add_seeds(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--seeds",
        type=seed_list,
        help="train each size once per seed, e.g. 0,1,2: every run is reported, "
        "with their mean and spread and the score of their averaged probabilities (an ensemble); "
        "simulated scribbles keep --seed, so only the training changes",
    )


def seed_list(text: str) -> list[int]:
    try:
        seeds = [int(value) for value in text.split(",") if value.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers (for example 0,1,2)"
        ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r} must name at least one seed, each once")
    return seeds


# Shared steps ------------------------------------------------------------------------------


def load_split(args: argparse.Namespace) -> tuple[list[Item], list[Item]]:
    items = load_folder(args.data, input_channel=args.input_channel)
    if args.test_data:
        return items, load_folder(args.test_data, input_channel=args.input_channel)
    return split(items, test_count=args.test_count or len(items) // 2)


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


def score(predictions: list[np.ndarray], test: list[Item]) -> dict[str, Any]:
    """Pixel F1 / IoU of the object class over all test pixels; object F1 at IoU 0.5, pooled.

    "per_image" adds each test image's pixel scores and the fraction of its pixels that are
    objects, so a pooled number can be traced to the fields that make it.
    """
    pixels = pixel_scores(
        np.concatenate([p.ravel() for p in predictions]),
        np.concatenate([t.classes.ravel() for t in test]),
        num_classes=2,
    )
    matched = predicted = true = 0
    for prediction, item in zip(predictions, test, strict=True):
        objects = object_scores(separate_instances(prediction == 1), item.instances)
        matched += int(objects["matched"])
        predicted += int(objects["predicted"])
        true += int(objects["true"])
    object_f1 = 2 * matched / (predicted + true) if predicted + true else 1.0
    return {
        "pixel_f1": pixels[1]["f1"],
        "iou": pixels[1]["iou"],
        "object_f1": object_f1,
        "pixel_precision": pixels[1]["precision"],
        "pixel_recall": pixels[1]["recall"],
        "per_image": [image_score(p, item) for p, item in zip(predictions, test, strict=True)],
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


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Samples this process's resident memory while the block runs; 'mb' holds the peak."""
    process, result, done = psutil.Process(), {"mb": 0.0}, threading.Event()

    def sample() -> None:
        while not done.is_set():
            result["mb"] = max(result["mb"], process.memory_info().rss / 2**20)
            done.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()


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


# Sub-commands ------------------------------------------------------------------------------


def label_efficiency(args: argparse.Namespace) -> dict[str, Any]:
    train, test = load_split(args)
    config = train_config(args, in_channels=train[0].image.shape[0])
    device = choose_device()
    seeds = args.seeds or [args.seed]
    runs: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    result: dict[str, Any] = {"runs": runs, "config": describe(args, config.to_dict(), train, test)}
    for k in sizes(args, len(train)):
        outcomes = []
        for seed in seeds:
            outcomes.append(
                efficiency_run(
                    args, config.replace(seed=seed), train[:k], test, device, name=seed_name(seeds, seed)
                )
            )
            runs.append(outcomes[-1].run)
            save_progress(args, result)
        if len(outcomes) > 1:
            ensemble = ensemble_run(outcomes, test)
            runs.append(ensemble)
            summary.append(spread([outcome.run for outcome in outcomes], ensemble))
            result["summary"] = summary
    return result


def seed_name(seeds: list[int], seed: int) -> str:
    return f"seed {seed}, " if len(seeds) > 1 else ""


@dataclass
class Outcome:
    """One trained model's scores, and its object-class probabilities on each test image."""

    run: dict[str, Any]
    probabilities: list[np.ndarray]

    @classmethod
    def of(cls, run: dict[str, Any], outputs: list[Prediction]) -> Outcome:
        # Copies of the object plane, so the outputs' other planes are freed.
        return cls(run, [output.probabilities[1].copy() for output in outputs])


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


def spread(runs: list[dict[str, Any]], ensemble: dict[str, Any] | None) -> dict[str, Any]:
    """Mean, standard deviation and range of each score over the seeds' runs, beside their
    ensemble's (None where some runs were reused from a file, which keeps no probabilities)."""
    summary: dict[str, Any] = {
        "train_images": runs[0]["train_images"],
        "seeds": [run["seed"] for run in runs],
    }
    for metric in ("pixel_f1", "iou", "object_f1"):
        values = np.array([run[metric] for run in runs])
        summary[metric] = {
            "mean": round(float(values.mean()), 4),
            "sd": round(float(values.std(ddof=1)), 4),
            "min": round(float(values.min()), 4),
            "max": round(float(values.max()), 4),
            "ensemble": round(float(ensemble[metric]), 4) if ensemble else None,
        }
    return summary


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
        seconds = time.perf_counter() - started
        outputs = [
            predict(result.model, image, device=device, tile=512, augment=args.test_time_augmentation)
            for image in test_images
        ]
    return outputs, {"train_seconds": round(seconds, 1), "peak_rss_mb": round(memory["mb"])}


def peer(args: argparse.Namespace) -> dict[str, Any]:
    train, test = load_split(args)
    peer_config = PeerConfig(seed=args.seed)
    runs = []
    for k in tqdm(sizes(args, len(train)), desc="peer", file=sys.stderr):
        prepare = normalizer(args, train[:k])
        images = [prepare(item.image) for item in train[:k]]
        targets = [training_target(item, args) for item in train[:k]]
        with peak_rss() as memory:
            started = time.perf_counter()
            model = fit_peer(images, targets, peer_config)
            seconds = time.perf_counter() - started
            predictions = [predict_peer(model, prepare(item.image), peer_config) for item in test]
        runs.append(
            {
                "train_images": k,
                "labels": args.labels,
                **scribbled(args, targets),
                **score(predictions, test),
                "train_seconds": round(seconds, 1),
                "peak_rss_mb": round(memory["mb"]),
            }
        )
    return {"runs": runs, "config": describe(args, vars(peer_config), train, test)}


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
    from training.ml.models import create_model

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


@contextmanager
def progress(total: int, description: str) -> Iterator[Callable[[StepEvent], None]]:
    with tqdm(total=total, desc=description, file=sys.stderr, unit="step") as bar:

        def on_step(event: StepEvent) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{event.loss:.3f}")

        yield on_step


if __name__ == "__main__":
    sys.exit(main())
