"""pretraining: the label-efficiency curve with and without self-supervised pretraining.

The network is pretrained once on the training pool's images without their labels (masked-image
reconstruction, or predicting a paired fluorescence channel from the input channel); then, for
each size k, the same segmentation training on the first k images runs twice with the same
budget, from scratch and from the pretrained weights, and both are scored on the test images.
By default the test images are never seen by the pretraining; `--pretrain-images all` adds their
input channel (never their labels) to the masked task, as the app pretrains on all of a project's
images, labelled or not.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from training.bench.common import (
    describe,
    efficiency_run,
    load_split,
    normalizer,
    progress,
    sizes,
    train_config,
)
from training.bench.datasets import Item, load_folder
from training.bench.options import Commands, add_common, add_prediction, add_seeds
from training.bench.seeds import SCORES, print_spread_table, seed_name, seeds_of, spread_by
from training.ml.config import TrainConfig
from training.ml.data import normalize
from training.ml.loop import Callbacks, choose_device
from training.ml.pretrain import TASKS, PretrainConfig, PretrainSample, pretrain


def add_command(commands: Commands) -> None:
    command = commands.add_parser(
        "pretraining", help="label-efficiency curve with and without self-supervised pretraining"
    )
    add_common(command)
    add_seeds(command)
    add_prediction(command)
    command.add_argument("--task", choices=TASKS, default="masked", help="the pretext task")
    command.add_argument(
        "--target-channel",
        default="fluorescence",
        help="fluorescence task: the channel folder predicted from the input channel",
    )
    command.add_argument("--pretrain-steps", type=int, default=500, help="pretraining steps")
    command.add_argument(
        "--pretrain-images",
        choices=("train", "all"),
        default="train",
        help="pretrain on the training pool only, or also on the test images' input (masked task only)",
    )
    command.add_argument(
        "--finetune-learning-rate",
        type=float,
        default=None,
        help="learning rate of the runs that start from the pretrained weights (default: --learning-rate)",
    )
    command.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="the runs that start from the pretrained weights train only the decoder and head",
    )
    command.set_defaults(command=pretraining)


def pretraining(args: argparse.Namespace) -> dict[str, Any]:
    """Both curves, "with" and "without" pretraining, each with one run per (size, seed) in "runs";
    "pretraining" says how the encoder was pretrained. With --seeds, pretraining and both curves
    run once per seed: each curve's "summary" holds every size's mean and spread over the seeds,
    "gain_summary" those of each seed's gain (with minus without), and "pretraining_runs" each
    seed's pretraining; the summaries are printed as a table on stderr too."""
    train, test = load_split(args)
    if args.pretrain_images == "all" and args.task != "masked":
        raise SystemExit(
            "--pretrain-images all is for the masked task: the fluorescence task would learn the test "
            "images' nucleus stain, which is what their ground truth was made from"
        )
    config = train_config(args, in_channels=train[0].image.shape[0])
    device = choose_device()
    seeds = seeds_of(args)
    chosen = sizes(args, len(train))
    curves: dict[str, list[dict[str, Any]]] = {"with": [], "without": []}
    pretrainings = []
    for seed in seeds:
        pretrained, about = pretrain_encoder(args, config.replace(seed=seed), train, test, device)
        pretrainings.append(about)
        # Fine-tuning may take a lower learning rate, or leave the encoder as it is, so that a few
        # labelled images do not wash out what pretraining learned.
        tuned = config.replace(
            seed=seed,
            learning_rate=args.finetune_learning_rate or config.learning_rate,
            freeze_encoder=args.freeze_encoder,
        )
        name = seed_name(seeds, seed)
        for k in chosen:
            scratch = config.replace(seed=seed)
            curves["without"].append(
                efficiency_run(args, scratch, train[:k], test, device, name=f"{name}from scratch, ").run
            )
            curves["with"].append(
                efficiency_run(
                    args,
                    tuned,
                    train[:k],
                    test,
                    device,
                    initial_weights=pretrained,
                    name=f"{name}pretrained, ",
                ).run
            )
    result: dict[str, Any] = {curve: {"runs": runs} for curve, runs in curves.items()}
    if len(seeds) == 1:
        result["pretraining"] = pretrainings[0]
    else:
        result["pretraining_runs"] = pretrainings
        for curve, runs in curves.items():
            result[curve]["summary"] = spread_by(runs, "train_images")
        result["gain_summary"] = spread_by(gains(curves["with"], curves["without"]), "train_images")
        rows = {**{curve: result[curve]["summary"] for curve in curves}, "gain": result["gain_summary"]}
        print_spread_table(
            [
                (f"{name}, {row['train_images']} images", row)
                for name, summary in rows.items()
                for row in summary
            ]
        )
    return {**result, "config": describe(args, config.to_dict(), train, test)}


def gains(with_: list[dict[str, Any]], without: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (size, seed)'s scores with pretraining minus those from scratch (the runs pair up)."""
    return [
        {
            "train_images": pretrained["train_images"],
            "seed": pretrained["seed"],
            **{metric: pretrained[metric] - scratch[metric] for metric in SCORES},
        }
        for pretrained, scratch in zip(with_, without, strict=True)
    ]


def pretrain_encoder(
    args: argparse.Namespace, config: TrainConfig, train: list[Item], test: list[Item], device: torch.device
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The pretext task on the training pool (and, with --pretrain-images all, the test images'
    input, never their labels): the pretrained weights, and how they were made."""
    prepare = normalizer(args, train)
    targets = _targets(args, train)
    settings = PretrainConfig.like(
        config,
        task=args.task,
        out_channels=targets[0].shape[0] if targets else config.in_channels,
        steps=20 if args.quick else args.pretrain_steps,
        warmup_steps=2 if args.quick else min(50, args.pretrain_steps // 10),
        mask_square=min(16, config.patch_size // 4),
    )
    samples = [
        PretrainSample(prepare(item.image), targets[n] if targets else None) for n, item in enumerate(train)
    ]
    unlabelled = test if args.pretrain_images == "all" else []
    samples += [PretrainSample(prepare(item.image), None) for item in unlabelled]
    started = time.perf_counter()
    with progress(settings.steps, f"pretraining ({args.task}, seed {config.seed})", decimals=4) as on_step:
        pretrained = pretrain(settings, samples, device=device, callbacks=Callbacks(on_step=on_step))
    return pretrained.state, {
        **settings.to_dict(),
        "images": [item.name for item in [*train, *unlabelled]],
        "seconds": round(time.perf_counter() - started, 1),
        "first_loss": round(pretrained.losses[0], 5),
        "last_loss": round(sum(pretrained.losses[-20:]) / len(pretrained.losses[-20:]), 5),
    }


def _targets(args: argparse.Namespace, train: list[Item]) -> list[Any]:
    """The fluorescence task's targets: the paired channel of each training image, each image
    scaled by its own percentiles (stain brightness varies from field to field)."""
    if args.task != "fluorescence":
        return []
    try:
        paired = {item.name: item for item in load_folder(args.data, input_channel=args.target_channel)}
    except ValueError as error:
        raise SystemExit(
            f"the fluorescence task reads --target-channel {args.target_channel}: {error}"
        ) from None
    missing = [item.name for item in train if item.name not in paired]
    if missing:
        raise SystemExit(f"no {args.target_channel}/ image for {', '.join(missing[:5])} in {args.data}")
    return [normalize(paired[item.name].image) for item in train]
