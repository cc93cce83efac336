"""self-training: a model's confident calls on unlabelled images become labels for the next model.

Round 0 is the benchmark's model trained on the training images' labels: the control, the same
run label-efficiency makes on all training images with the same flags. Round r trains a new model
from scratch, with the same seed, on those labels plus the test images' input channel labelled by
round r-1's object probabilities: p >= HIGH object, p <= LOW background, the rest unknown, all at
the config's derived weight, so they weigh less than the labels. Every round is scored on the
test masks.

The test masks are never read for training, only the test images' input; but the images that
are pseudo-labelled are the ones scored, so the result is transductive and says so in its config.
It measures whether learning from unlabelled images of the same kind helps, which is what the
app could do with a project's unlabelled images.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from training.bench.common import (
    Outcome,
    describe,
    fit_and_predict,
    load_split,
    normalizer,
    save_progress,
    score,
    train_config,
    training_target,
)
from training.bench.options import Commands, add_common, add_prediction, add_seeds, scale_range
from training.bench.seeds import print_spread_table, seed_name, seeds_of, spread_by
from training.ml.data import Sample, merge_targets
from training.ml.loop import choose_device

if TYPE_CHECKING:
    import torch

    from training.bench.datasets import Item
    from training.ml.config import TrainConfig


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "self-training",
        help="retrain on the test images' input labelled by the previous model's confident calls "
        "(transductive)",
    )
    add_common(command)
    add_prediction(command)
    add_seeds(command)
    command.add_argument(
        "--rounds", type=positive, default=1, help="models trained on pseudo-labels after round 0"
    )
    command.add_argument(
        "--confidence",
        type=confidence,
        default=(0.2, 0.8),
        metavar="LOW,HIGH",
        help="object probability at or below LOW is background, at or above HIGH object, "
        "in between unknown (default 0.2,0.8)",
    )
    command.set_defaults(command=self_training)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def confidence(text: str) -> tuple[float, float]:
    low, high = scale_range(text)
    if not 0.0 <= low < 0.5 < high <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= LOW < 0.5 < HIGH <= 1")
    return low, high


def self_training(args: argparse.Namespace) -> dict[str, Any]:
    """Every (seed, round) model's scores in "runs", in training order; with several seeds,
    each round's mean and spread over them in "summary"."""
    train, test = load_split(args)
    # Scaled by ranges fixed on the training images, once: every round learns from and predicts
    # the same inputs, so round r's calls are made on the images round r + 1 learns them on.
    prepare = normalizer(args, train)
    samples = [Sample(prepare(item.image), training_target(item, args)) for item in train]
    test_images = [prepare(item.image) for item in test]
    config = train_config(args, in_channels=train[0].image.shape[0])
    seeds = seeds_of(args)
    low, high = args.confidence
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "runs": runs,
        "config": {
            **describe(args, config.to_dict(), train, test),
            "rounds": args.rounds,
            "confidence": [low, high],
            "transductive": True,
        },
    }
    device = choose_device()
    for seed in seeds:
        probabilities: list[np.ndarray] = []
        for round_ in range(args.rounds + 1):
            pseudo = [pseudo_labels(p, low=low, high=high) for p in probabilities]
            outcome = round_run(
                args,
                config.replace(seed=seed),
                samples,
                test_images,
                test,
                pseudo,
                device,
                name=f"{seed_name(seeds, seed)}round {round_}",
            )
            outcome.run["round"] = round_
            runs.append(outcome.run)
            probabilities = outcome.probabilities
            save_progress(args, result)
    if len(seeds) > 1:
        result["summary"] = spread_by(runs, "round")
        print_spread_table([(f"round {row['round']}", row) for row in result["summary"]])
    return result


def pseudo_labels(probability: np.ndarray, *, low: float, high: float) -> np.ndarray:
    """A class map from an object-probability map: 1 at or above `high`, 0 at or below `low`,
    -1 (unknown) between them."""
    labels = np.full(probability.shape, -1, dtype=np.int64)
    labels[probability >= high] = 1
    labels[probability <= low] = 0
    return labels


def round_run(
    args: argparse.Namespace,
    config: TrainConfig,
    samples: list[Sample],
    test_images: list[np.ndarray],
    test: list[Item],
    pseudo: list[np.ndarray],
    device: torch.device,
    *,
    name: str,
) -> Outcome:
    """A model on the training `samples` and, where given, the (normalised) test images'
    pseudo-labels at the derived weight, scored on the test images."""
    learnt = list(samples)
    if pseudo:
        learnt += [
            Sample(image, *merge_targets(None, labels, derived_weight=config.derived_weight))
            for image, labels in zip(test_images, pseudo, strict=True)
        ]
    outputs, cost = fit_and_predict(args, config, learnt, test_images, device, description=name)
    run = {
        "train_images": len(samples),
        "pseudo_labelled_images": len(pseudo),
        "labels": args.labels,
        **score([output.classes for output in outputs], test),
        **cost,
        "seed": config.seed,
    }
    if pseudo:
        run["pseudo_unknown_fraction"] = [round(float((p < 0).mean()), 4) for p in pseudo]
    print(json.dumps({name: run}), file=sys.stderr)
    return Outcome.of(run, outputs)
