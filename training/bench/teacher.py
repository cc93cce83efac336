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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from training.bench.datasets import Item, load_folder
from training.ml.data import Sample, merge_targets
from training.ml.fluorescence import TeacherParams, nucleus_instances
from training.ml.loop import choose_device
from training.ml.metrics import pixel_scores
from training.ml.scribbles import simulate_scribbles

if TYPE_CHECKING:
    from training.bench.__main__ import Outcome

TEACHER_CHANNEL = "fluorescence"
# What each model learns from, as the runs' "labels" say.
LABELS = {
    "teacher": "fluorescence pseudo-masks",
    "ground_truth": "dense",
    "scribbles": "scribbles",
    "scribbles_and_teacher": "scribbles + fluorescence pseudo-masks",
}
# A training image's class map (-1 unknown) and its pixel weights (None: 1 wherever known).
Target = tuple[np.ndarray, np.ndarray | None]


def add_command(commands: Any) -> None:
    from training.bench.__main__ import add_common, add_prediction, add_seeds

    command = commands.add_parser(
        "fluorescence-teacher",
        help="brightfield model on fluorescence pseudo-masks vs the same model on ground truth",
    )
    add_common(command)
    add_prediction(command)
    add_seeds(command)
    command.add_argument(
        "--teacher-channel", default=TEACHER_CHANNEL, help="channel folder the pseudo-masks come from"
    )
    command.add_argument(
        "--teacher-params", default="{}", help='pipeline parameters as JSON, e.g. {"sigma": 1.5}'
    )
    command.add_argument(
        "--scribbles",
        action="store_true",
        help="also train on simulated scribbles alone, and on the scribbles with the pseudo-masks "
        "filling their unknown pixels at the config's derived weight (the app's mix of human and "
        "derived labels)",
    )
    command.add_argument(
        "--ground-truth-from",
        type=Path,
        help="reuse the ground-truth model's scores from an earlier label-efficiency JSON of the very "
        "same data, split and training config (checked) instead of training it again",
    )
    command.set_defaults(command=fluorescence_teacher)


def fluorescence_teacher(args: argparse.Namespace) -> dict[str, Any]:
    """With one seed, "teacher" and "ground_truth" hold each model's scores. With --seeds, each
    model is trained once per seed: "teacher_runs" / "ground_truth_runs" hold every run,
    "teacher" / "ground_truth" the scores of their averaged probabilities (an ensemble, marked
    "ensemble_of_seeds"), and "teacher_summary" / "ground_truth_summary" each model's mean,
    spread and ensemble per metric. --scribbles adds "scribbles" and "scribbles_and_teacher" the
    same way."""
    from training.bench.__main__ import load_split

    try:
        params = TeacherParams.from_dict(json.loads(args.teacher_params))
    except (ValueError, json.JSONDecodeError) as error:
        raise SystemExit(f"--teacher-params: {error}") from error
    seeds = args.seeds or [args.seed]
    if args.ground_truth_from and len(seeds) > 1:
        raise SystemExit(
            "--ground-truth-from reuses one ground-truth run; with --seeds each seed trains its own"
        )
    train, test = load_split(args)
    pseudo = pseudo_masks(args.data, train, channel=args.teacher_channel, params=params)
    result: dict[str, Any] = {"pseudo_masks": pseudo_mask_scores(pseudo, train)}
    print(json.dumps(result), file=sys.stderr)
    config = _config(args, train, test)
    reused = reused_scores(args.ground_truth_from, config) if args.ground_truth_from else None
    models: dict[str, list[Target]] = {
        "teacher": [(mask, None) for mask in pseudo],
        "ground_truth": [(item.classes, None) for item in train],
    }
    if args.scribbles:
        models.update(mixed_targets(args, train, pseudo))
    for name, targets in models.items():
        if name == "ground_truth" and reused:
            result[name] = reused
            print(json.dumps({name: reused}), file=sys.stderr)
            continue
        result.update(seeded_runs(args, seeds, train, targets, test, name=name))
        if len(seeds) > 1:  # each run was printed as it ended; this is their ensemble
            print(json.dumps({name: result[name]}), file=sys.stderr)
    result["config"] = {**config, "teacher_channel": args.teacher_channel, "teacher_params": params.to_dict()}
    return result


def mixed_targets(
    args: argparse.Namespace, train: list[Item], pseudo: list[np.ndarray]
) -> dict[str, list[Target]]:
    """Simulated scribbles (the same for every seed), alone and over the pseudo-masks: scribbled
    pixels keep their class at full weight, the pseudo-masks fill the rest at the derived weight."""
    from training.bench.__main__ import train_config

    derived_weight = train_config(args, in_channels=train[0].image.shape[0]).derived_weight
    scribbles = [
        simulate_scribbles(
            item.classes, budget=args.scribble_budget, seed=args.seed, instances=item.instances
        )
        for item in train
    ]
    return {
        "scribbles": [(scribble, None) for scribble in scribbles],
        "scribbles_and_teacher": [
            merge_targets(scribble, mask, derived_weight=derived_weight)
            for scribble, mask in zip(scribbles, pseudo, strict=True)
        ],
    }


def seeded_runs(
    args: argparse.Namespace,
    seeds: list[int],
    train: list[Item],
    targets: list[Target],
    test: list[Item],
    *,
    name: str,
) -> dict[str, Any]:
    """One model per seed on (train images, targets); with several, their ensemble and spread."""
    from training.bench.__main__ import ensemble_run, spread

    description = name.replace("_", " ")
    if len(seeds) == 1:
        outcome = train_and_score(
            args, train, targets, test, seed=seeds[0], labels=LABELS[name], description=description
        )
        return {name: outcome.run}
    outcomes = [
        train_and_score(
            args,
            train,
            targets,
            test,
            seed=seed,
            labels=LABELS[name],
            description=f"{description}, seed {seed}",
        )
        for seed in seeds
    ]
    ensemble = ensemble_run(outcomes, test)
    return {
        name: ensemble,
        f"{name}_runs": [outcome.run for outcome in outcomes],
        f"{name}_summary": spread(outcomes, ensemble),
    }


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
    targets: list[Target],
    test: list[Item],
    *,
    seed: int,
    labels: str,
    description: str,
) -> Outcome:
    """One model of the benchmark's config on (train images, targets), scored on the test fields."""
    from training.bench.__main__ import Outcome, fit_and_predict, normalizer, score, train_config

    config = train_config(args, in_channels=train[0].image.shape[0]).replace(seed=seed)
    prepare = normalizer(args, train)
    samples = [
        Sample(prepare(item.image), target, weight)
        for item, (target, weight) in zip(train, targets, strict=True)
    ]
    test_images = [prepare(item.image) for item in test]
    outputs, cost = fit_and_predict(
        args, config, samples, test_images, choose_device(), description=description
    )
    run = {
        "train_images": len(train),
        "labels": labels,
        **score([output.classes for output in outputs], test),
        **cost,
        "seed": seed,
    }
    print(json.dumps({description: run}), file=sys.stderr)
    return Outcome.of(run, outputs)


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
