"""fluorescence-teacher: a brightfield model trained on pseudo-masks from the fluorescence channel.

The training fields' fluorescence planes go through the classical pipeline
(training/ml/fluorescence.py); their ground truth is never used for training, only to report how
good the pseudo-masks themselves are. A brightfield model is trained on the pseudo-masks and
scored on the test fields' ground-truth nuclei; the same model config trained on the ground-truth
masks of the same fields is the comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from training.bench.datasets import Item, load_folder
from training.ml.data import Sample
from training.ml.fluorescence import TeacherParams, nucleus_instances
from training.ml.inference import predict
from training.ml.loop import Callbacks, Trainer, choose_device
from training.ml.metrics import pixel_scores

TEACHER_CHANNEL = "fluorescence"


def add_command(commands: Any) -> None:
    from training.bench.__main__ import add_common, add_prediction

    command = commands.add_parser(
        "fluorescence-teacher",
        help="brightfield model on fluorescence pseudo-masks vs the same model on ground truth",
    )
    add_common(command)
    add_prediction(command)
    command.add_argument(
        "--teacher-channel", default=TEACHER_CHANNEL, help="channel folder the pseudo-masks come from"
    )
    command.add_argument(
        "--teacher-params", default="{}", help='pipeline parameters as JSON, e.g. {"sigma": 1.5}'
    )
    command.add_argument(
        "--ground-truth-from",
        type=Path,
        help="reuse the ground-truth model's scores from an earlier label-efficiency JSON of the very "
        "same data, split and training config (checked) instead of training it again",
    )
    command.set_defaults(command=fluorescence_teacher)


def fluorescence_teacher(args: argparse.Namespace) -> dict[str, Any]:
    from training.bench.__main__ import load_split

    try:
        params = TeacherParams.from_dict(json.loads(args.teacher_params))
    except (ValueError, json.JSONDecodeError) as error:
        raise SystemExit(f"--teacher-params: {error}") from error
    train, test = load_split(args)
    pseudo = pseudo_masks(args.data, train, channel=args.teacher_channel, params=params)
    result: dict[str, Any] = {"pseudo_masks": pseudo_mask_scores(pseudo, train)}
    print(json.dumps(result), file=sys.stderr)
    config = _config(args, train, test)
    reused = reused_scores(args.ground_truth_from, config) if args.ground_truth_from else None
    result["teacher"] = train_and_score(args, train, pseudo, test, description="teacher")
    print(json.dumps({"teacher": result["teacher"]}), file=sys.stderr)
    truth = [item.classes for item in train]
    result["ground_truth"] = reused or train_and_score(args, train, truth, test, description="ground truth")
    print(json.dumps({"ground_truth": result["ground_truth"]}), file=sys.stderr)
    result["config"] = {**config, "teacher_channel": args.teacher_channel, "teacher_params": params.to_dict()}
    return result


def pseudo_masks(root: Path, train: list[Item], *, channel: str, params: TeacherParams) -> list[np.ndarray]:
    """Class maps (0/1, int64) of the training fields, from their teacher channel only."""
    planes = {item.name: item.image for item in load_folder(root, input_channel=channel)}
    missing = [item.name for item in train if item.name not in planes]
    if missing:
        raise SystemExit(f"{root}/{channel}/ lacks {len(missing)} training field(s), e.g. {missing[0]}.png")
    masks = []
    for item in tqdm(train, desc="pseudo-masks", file=sys.stderr, unit="field"):
        plane = planes[item.name][0]
        if plane.shape != item.instances.shape:
            raise SystemExit(f"{item.name}: {channel} is {plane.shape}, the input is {item.instances.shape}")
        masks.append((nucleus_instances(plane, params) > 0).astype(np.int64))
    return masks


def pseudo_mask_scores(masks: list[np.ndarray], train: list[Item]) -> dict[str, float]:
    """How good the teacher itself is: pixel scores of the pseudo-masks against ground truth."""
    pixels = pixel_scores(
        np.concatenate([m.ravel() for m in masks]),
        np.concatenate([item.classes.ravel() for item in train]),
        num_classes=2,
    )[1]
    return {
        "pixel_f1": pixels["f1"],
        "pixel_precision": pixels["precision"],
        "pixel_recall": pixels["recall"],
    }


def train_and_score(
    args: argparse.Namespace,
    train: list[Item],
    targets: list[np.ndarray],
    test: list[Item],
    *,
    description: str,
) -> dict[str, Any]:
    """One model of the benchmark's config on (train images, targets), scored on the test fields."""
    from training.bench.__main__ import normalizer, progress, score, train_config

    config = train_config(args, in_channels=train[0].image.shape[0])
    device = choose_device()
    prepare = normalizer(args, train)
    samples = [Sample(prepare(item.image), target) for item, target in zip(train, targets, strict=True)]
    started = time.perf_counter()
    with progress(config.steps, description) as on_step:
        model = (
            Trainer(config, train=samples, validation=[], device=device, callbacks=Callbacks(on_step=on_step))
            .fit()
            .model
        )
    seconds = time.perf_counter() - started
    augment = args.test_time_augmentation
    predictions = [
        predict(model, prepare(item.image), device=device, tile=512, augment=augment).classes for item in test
    ]
    return {**score(predictions, test), "train_seconds": round(seconds, 1)}


SAME_KEYS = ("data", "train_pool", "test", "quick")
# Keys that results made before they existed lack, with the value those results were made with.
LATER_KEYS = {"test_time_augmentation": False}


def reused_scores(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The dense run of an earlier label-efficiency result, if it was made exactly as this one
    would be (same data, split and training config); otherwise stop and say what differs."""
    earlier = json.loads(Path(path).read_text())
    old = earlier.get("config", {})
    train_keys = [key for key in config if key in old and key not in ("date", "machine", "labels")]
    differ = [key for key in train_keys if old[key] != config[key]]
    differ += [key for key, was in LATER_KEYS.items() if key not in old and config.get(key, was) != was]
    differ += [key for key in SAME_KEYS if key not in old]
    if differ:
        raise SystemExit(f"--ground-truth-from {path}: made with other {', '.join(differ)}; train it again")
    runs = [
        run
        for run in earlier.get("runs", [])
        if run.get("labels") == "dense" and run.get("train_images") == len(config["train_pool"])
    ]
    if not runs:
        raise SystemExit(
            f"--ground-truth-from {path}: no dense run on all {len(config['train_pool'])} images"
        )
    keep = ("pixel_f1", "iou", "object_f1", "pixel_precision", "pixel_recall", "train_seconds")
    scores = {key: runs[0][key] for key in keep}
    if "per_image" in runs[0]:
        scores["per_image"] = runs[0]["per_image"]
    return {**scores, "reused_from": str(path), "measured": old.get("date")}


def _config(args: argparse.Namespace, train: list[Item], test: list[Item]) -> dict[str, Any]:
    from training.bench.__main__ import describe, train_config

    config = train_config(args, in_channels=train[0].image.shape[0])
    described = describe(args, config.to_dict(), train, test)
    described["labels"] = "fluorescence-teacher / ground truth"
    return described
