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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from training.bench.common import (
    Outcome,
    describe,
    ensemble_run,
    fit_and_predict,
    load_split,
    normalizer,
    save_progress,
    score,
    scribbled_fraction,
    train_config,
)
from training.bench.datasets import Item, load_folder
from training.bench.options import (
    Commands,
    add_common,
    add_prediction,
    add_seeds,
    add_teacher,
    number_list,
    teacher_params,
)
from training.bench.seeds import print_spread_table, seeds_of, spread
from training.ml.data import Sample, merge_targets
from training.ml.fluorescence import TeacherParams, nucleus_instances
from training.ml.loop import choose_device
from training.ml.metrics import pixel_scores
from training.ml.scribbles import simulate_scribbles

TEACHER_LABELS = "fluorescence pseudo-masks"  # what runs on the teacher's masks say they learnt from
# A training image's class map (-1 unknown) and its pixel weights (None: 1 wherever known).
Target = tuple[np.ndarray, np.ndarray | None]


@dataclass
class Model:
    """What one of the compared models learns from: its runs' "labels", a target per training
    image, and what else its runs should say about those targets."""

    labels: str
    targets: list[Target]
    about: dict[str, Any] = field(default_factory=dict)


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "fluorescence-teacher",
        help="brightfield model on fluorescence pseudo-masks vs the same model on ground truth",
    )
    add_common(command)
    add_prediction(command)
    add_seeds(command)
    add_teacher(command)
    command.add_argument(
        "--scribbles",
        nargs="?",
        const=[],
        type=budget_list,
        metavar="BUDGETS",
        help="also train on simulated scribbles alone, and on the scribbles with the pseudo-masks "
        "filling their unknown pixels at the config's derived weight (the app's mix of human and "
        "derived labels); with BUDGETS (fractions of pixels, e.g. 0.01,0.02,0.05) both once per "
        "budget, without them at --scribble-budget",
    )
    command.add_argument(
        "--ground-truth-from",
        type=Path,
        help="reuse the ground-truth model's runs from an earlier label-efficiency or "
        "fluorescence-teacher JSON (finished or stopped part way) of the very same data, split and "
        "training config (checked) instead of training them again; with --seeds, each seed's run "
        "where the file has one (then no ensemble of the ground truth: a file keeps no probabilities)",
    )
    command.set_defaults(command=fluorescence_teacher)


def fluorescence_teacher(args: argparse.Namespace) -> dict[str, Any]:
    """With one seed, "teacher" and "ground_truth" hold each model's scores. With --seeds, each
    model is trained once per seed: "teacher_runs" / "ground_truth_runs" hold every run,
    "teacher" / "ground_truth" the scores of their averaged probabilities (an ensemble, marked
    "ensemble_of_seeds"), and "teacher_summary" / "ground_truth_summary" each model's mean,
    spread and ensemble per metric. --scribbles adds "scribbles" and "scribbles_and_teacher" the
    same way."""
    params = teacher_params(args)
    seeds = seeds_of(args)
    train, test = load_split(args)
    config = _config(args, train, test)
    reused = reused_runs(args.ground_truth_from, config, seeds) if args.ground_truth_from else {}
    pseudo = pseudo_masks(args.data, train, channel=args.teacher_channel, params=params)
    result: dict[str, Any] = {"pseudo_masks": pseudo_mask_scores(pseudo, train)}
    print(json.dumps(result), file=sys.stderr)
    result["config"] = {**config, "teacher_channel": args.teacher_channel, "teacher_params": params.to_dict()}
    models = {
        "teacher": Model(TEACHER_LABELS, [(mask, None) for mask in pseudo]),
        "ground_truth": Model("dense", [(item.classes, None) for item in train]),
    }
    if args.scribbles is not None:
        for budget in args.scribbles or [args.scribble_budget]:
            suffix = f"_{budget:g}" if len(args.scribbles) > 1 else ""
            for name, model in mixed_models(args, train, pseudo, budget=budget).items():
                models[name + suffix] = model
    for name, model in models.items():
        earlier = reused if name == "ground_truth" else {}
        result.update(seeded_runs(args, seeds, train, model, test, name=name, done=result, reused=earlier))
        if len(seeds) > 1:  # each run was printed as it ended; this is their spread and ensemble
            print(json.dumps({name: result[f"{name}_summary"]}), file=sys.stderr)
        save_progress(args, result)
    print_spread_table([(name, result[f"{name}_summary"]) for name in models if f"{name}_summary" in result])
    return result


def budget_list(text: str) -> list[float]:
    """--scribbles' budgets (the flag alone gives none: --scribble-budget's one is used)."""
    budgets = number_list(text, float, "is not a list of fractions of pixels (for example 0.01,0.05)")
    if not budgets or any(not 0 < b <= 1 for b in budgets) or len(set(budgets)) != len(budgets):
        raise argparse.ArgumentTypeError(
            f"{text!r}: name each budget once, as a fraction of pixels above 0 and at most 1"
        )
    return budgets


def mixed_models(
    args: argparse.Namespace, train: list[Item], pseudo: list[np.ndarray], *, budget: float
) -> dict[str, Model]:
    """Simulated scribbles covering `budget` of the pixels (the same for every seed), alone and
    over the pseudo-masks: scribbled pixels keep their class at full weight, the pseudo-masks
    fill the rest at the derived weight."""
    derived_weight = train_config(args, in_channels=train[0].image.shape[0]).derived_weight
    scribbles = [
        simulate_scribbles(item.classes, budget=budget, seed=args.seed, instances=item.instances)
        for item in train
    ]
    about = {"scribble_budget": budget, "scribbled_fraction": scribbled_fraction(scribbles)}
    return {
        "scribbles": Model("scribbles", [(scribble, None) for scribble in scribbles], about),
        "scribbles_and_teacher": Model(
            "scribbles + fluorescence pseudo-masks",
            [
                merge_targets(scribble, mask, derived_weight=derived_weight)
                for scribble, mask in zip(scribbles, pseudo, strict=True)
            ],
            about,
        ),
    }


def seeded_runs(
    args: argparse.Namespace,
    seeds: list[int],
    train: list[Item],
    model: Model,
    test: list[Item],
    *,
    name: str,
    done: dict[str, Any],
    reused: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """One model per seed on (train images, the model's targets), except the seeds `reused` has
    a run for; with several seeds, their spread and (when all were trained here) their ensemble.
    Each run is saved with the results `done` so far as soon as it ends."""
    description = name.replace("_", " ")
    runs = dict(reused)
    outcomes: list[Outcome] = []
    for seed in seeds:
        if seed in runs:
            print(json.dumps({f"{description}, seed {seed}": runs[seed]}), file=sys.stderr)
            continue
        outcome = train_and_score(
            args,
            train,
            model.targets,
            test,
            seed=seed,
            labels=model.labels,
            description=f"{description}, seed {seed}" if len(seeds) > 1 else description,
        )
        outcome.run.update(model.about)
        outcomes.append(outcome)
        runs[seed] = outcome.run
        if len(seeds) > 1:
            save_progress(args, {**done, f"{name}_runs": [runs[s] for s in seeds if s in runs]})
    ordered = [runs[seed] for seed in seeds]
    if len(seeds) == 1:
        return {name: ordered[0]}
    result: dict[str, Any] = {f"{name}_runs": ordered}
    ensemble = None
    if not reused:
        ensemble = {**ensemble_run(outcomes, test), **model.about}
        result[name] = ensemble
    result[f"{name}_summary"] = spread(ordered, ensemble)
    return result


def pseudo_masks(root: Path, train: list[Item], *, channel: str, params: TeacherParams) -> list[np.ndarray]:
    """Class maps (0/1, int64) of the training fields, from their teacher channel only."""
    if not (root / channel).is_dir():
        raise SystemExit(
            f"{root / channel}/ does not exist: the teacher's stain comes from --teacher-channel"
        )
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
# Keys that may differ: each run says its own seed.
FREE_KEYS = ("date", "machine", "labels", "seed")
REUSED_KEYS = (
    "pixel_f1",
    "iou",
    "object_f1",
    "pixel_precision",
    "pixel_recall",
    "train_seconds",
    "peak_rss_mb",
    "per_image",
)


def reused_runs(path: Path, config: dict[str, Any], seeds: list[int]) -> dict[int, dict[str, Any]]:
    """By seed, the ground-truth runs on all training images of an earlier label-efficiency or
    fluorescence-teacher result, if it was made exactly as this one would be (same data, split
    and training config); otherwise stop and say what differs."""
    earlier = json.loads(Path(path).read_text())
    old = earlier.get("config", {})
    train_keys = [key for key in config if key in old and key not in FREE_KEYS]
    differ = [key for key in train_keys if old[key] != config[key]]
    differ += [key for key, was in LATER_KEYS.items() if key not in old and config.get(key, was) != was]
    differ += [key for key in SAME_KEYS if key not in old]
    if differ:
        raise SystemExit(f"--ground-truth-from {path}: made with other {', '.join(differ)}; train it again")
    single = [earlier["ground_truth"]] if "ground_truth" in earlier else []
    candidates = earlier.get("runs") or earlier.get("ground_truth_runs") or single
    runs: dict[int, dict[str, Any]] = {}
    for run in candidates:
        seed = run.get("seed", old.get("seed", 0))
        if (
            run.get("labels") == "dense"
            and run.get("train_images") == len(config["train_pool"])
            and "ensemble_of_seeds" not in run
            and seed in seeds
        ):
            runs.setdefault(seed, run)
    if not runs:
        raise SystemExit(
            f"--ground-truth-from {path}: no dense run on all {len(config['train_pool'])} images "
            f"with seed {' or '.join(map(str, seeds))}"
        )
    return {
        seed: {
            "train_images": run["train_images"],
            "labels": "dense",
            **{key: run[key] for key in REUSED_KEYS if key in run},
            "seed": seed,
            # A run reused before keeps the file, date and machine it was measured in: runs on
            # different processors differ in the third decimal (bench/README.md).
            "reused_from": run.get("reused_from", str(path)),
            "measured": run.get("measured", old.get("date")),
            "measured_on": run.get("measured_on", old.get("machine")),
        }
        for seed, run in runs.items()
    }


def _config(args: argparse.Namespace, train: list[Item], test: list[Item]) -> dict[str, Any]:
    config = train_config(args, in_channels=train[0].image.shape[0])
    described = describe(args, config.to_dict(), train, test)
    described["labels"] = "fluorescence-teacher / ground truth"
    return described
