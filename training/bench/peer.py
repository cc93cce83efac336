"""peer: the random-forest "trainable segmentation" peer on the same split and labels as ours."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tqdm import tqdm

from training.bench import common
from training.bench.datasets import Item
from training.bench.options import Commands, add_common, add_seeds
from training.bench.seeds import print_spread_table, seeds_of, spread_by
from training.ml.peer import PeerConfig, fit_peer, predict_peer


def add_command(commands: Commands) -> None:
    command = commands.add_parser("peer", help="the random-forest peer on the same split and labels")
    add_common(command)
    add_seeds(command)
    command.set_defaults(command=peer)


def peer(args: argparse.Namespace) -> dict[str, Any]:
    """One forest per (size, seed) in "runs"; with several seeds, each size's mean and spread
    over them in "summary" (and a table on stderr)."""
    train, test = common.load_split(args)
    seeds = seeds_of(args)
    chosen = common.sizes(args, len(train))
    runs = [
        peer_run(args, train[:k], test, PeerConfig(seed=seed))
        for k, seed in tqdm([(k, seed) for k in chosen for seed in seeds], desc="peer", file=sys.stderr)
    ]
    result: dict[str, Any] = {
        "runs": runs,
        "config": common.describe(args, vars(PeerConfig(seed=seeds[0])), train, test),
    }
    if len(seeds) > 1:
        summary = spread_by(runs, "train_images")
        result["summary"] = summary
        print_spread_table([(f"{row['train_images']} images", row) for row in summary])
    return result


def peer_run(
    args: argparse.Namespace, train: list[Item], test: list[Item], config: PeerConfig
) -> dict[str, Any]:
    """A forest on the `train` images' labels, scored on `test`."""
    prepare = common.normalizer(args, train)
    images = [prepare(item.image) for item in train]
    targets = [common.training_target(item, args) for item in train]
    with common.peak_rss() as memory:
        started = time.perf_counter()
        model = fit_peer(images, targets, config)
        seconds = time.perf_counter() - started
        predictions = [predict_peer(model, prepare(item.image), config) for item in test]
    return {
        "train_images": len(train),
        "labels": args.labels,
        **common.scribbled(args, targets),
        **common.score(predictions, test),
        "train_seconds": round(seconds, 1),
        "peak_rss_mb": round(memory["mb"]),
        "seed": config.seed,
    }
