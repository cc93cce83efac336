"""peer: the random-forest "trainable segmentation" peer on the same split and labels as ours."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tqdm import tqdm

from training.bench import common
from training.bench.options import Commands, add_common
from training.ml.peer import PeerConfig, fit_peer, predict_peer


def add_command(commands: Commands) -> None:
    command = commands.add_parser("peer", help="the random-forest peer on the same split and labels")
    add_common(command)
    command.set_defaults(command=peer)


def peer(args: argparse.Namespace) -> dict[str, Any]:
    train, test = common.load_split(args)
    peer_config = PeerConfig(seed=args.seed)
    runs = []
    for k in tqdm(common.sizes(args, len(train)), desc="peer", file=sys.stderr):
        prepare = common.normalizer(args, train[:k])
        images = [prepare(item.image) for item in train[:k]]
        targets = [common.training_target(item, args) for item in train[:k]]
        with common.peak_rss() as memory:
            started = time.perf_counter()
            model = fit_peer(images, targets, peer_config)
            seconds = time.perf_counter() - started
            predictions = [predict_peer(model, prepare(item.image), peer_config) for item in test]
        runs.append(
            {
                "train_images": k,
                "labels": args.labels,
                **common.scribbled(args, targets),
                **common.score(predictions, test),
                "train_seconds": round(seconds, 1),
                "peak_rss_mb": round(memory["mb"]),
            }
        )
    return {"runs": runs, "config": common.describe(args, vars(peer_config), train, test)}
