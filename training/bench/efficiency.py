"""label-efficiency: our model trained on the first k images for each k, scored on the test images."""

from __future__ import annotations

import argparse
from typing import Any

from training.bench.common import (
    Outcome,
    describe,
    efficiency_run,
    ensemble_run,
    load_split,
    save_progress,
    sizes,
    train_config,
)
from training.bench.options import Commands, add_common, add_prediction, add_seeds
from training.bench.seeds import print_spread_table, seed_name, seeds_of, spread
from training.ml.loop import choose_device


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "label-efficiency", help="our model: score against the number of labelled images"
    )
    add_common(command)
    command.set_defaults(command=label_efficiency)
    add_seeds(command)
    add_prediction(command)


def label_efficiency(args: argparse.Namespace) -> dict[str, Any]:
    """One run per (size, seed) in "runs"; with several seeds, each size's ensemble after its
    runs and the mean and spread over the seeds in "summary" (and a table on stderr)."""
    train, test = load_split(args)
    config = train_config(args, in_channels=train[0].image.shape[0])
    device = choose_device()
    seeds = seeds_of(args)
    runs: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    result: dict[str, Any] = {"runs": runs, "config": describe(args, config.to_dict(), train, test)}
    for k in sizes(args, len(train)):
        outcomes: list[Outcome] = []
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
    print_spread_table([(f"{row['train_images']} images", row) for row in summary])
    return result
