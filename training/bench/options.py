"""The command-line options several benchmark commands share, and their parsers."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias, TypeVar

from training.ml.config import TrainConfig
from training.ml.fluorescence import TeacherParams

# What `add_subparsers` returns: each command module adds its sub-command to it.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Number = TypeVar("Number", int, float)
TEACHER_CHANNEL = "fluorescence"


def add_common(command: argparse.ArgumentParser, *, labels: tuple[str, ...] = ("dense", "scribbles")) -> None:
    """Data, split, labels (of `labels`) and training config: the options of every command that trains."""
    command.add_argument("--data", type=Path, required=True, help="data set folder (../shared/data/...)")
    test = command.add_mutually_exclusive_group()
    test.add_argument("--test-data", type=Path, help="a separate folder of test images")
    test.add_argument("--test-count", type=int, help="score on the last N images by name (default: half)")
    command.add_argument("--input-channel", default=None, help="channel folder, e.g. brightfield")
    command.add_argument("--sizes", default="1,4,8,16", help="training set sizes, e.g. 1,4,8,16")
    command.add_argument("--labels", choices=labels, default="dense")
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
    add_loss_options(command)
    command.add_argument(
        "--scale-range",
        type=scale_range,
        default=TrainConfig.scale_range,
        help="LOW,HIGH: patches are zoomed by a factor drawn from this range (objects of other sizes)",
    )
    command.add_argument(
        "--imaging-augmentation",
        action="store_true",
        help="also vary gamma, focus, noise and illumination in training patches (other microscopes, days)",
    )
    command.add_argument(
        "--human-patch-fraction",
        type=float,
        default=TrainConfig.human_patch_fraction,
        help="share of label-centred patches centred on human labels where derived ones fill the rest",
    )
    add_quick_and_out(command, quick="smoke run: few steps, small patches")


def add_teacher(command: argparse.ArgumentParser) -> None:
    """The fluorescence teacher's channel folder and pipeline parameters (read by `teacher_params`)."""
    command.add_argument(
        "--teacher-channel", default=TEACHER_CHANNEL, help="channel folder the pseudo-masks come from"
    )
    command.add_argument(
        "--teacher-params", default="{}", help='pipeline parameters as JSON, e.g. {"sigma": 1.5}'
    )


def teacher_params(args: argparse.Namespace) -> TeacherParams:
    """--teacher-params, checked before anything trains."""
    try:
        return TeacherParams.from_dict(json.loads(args.teacher_params))
    except (ValueError, json.JSONDecodeError) as error:
        raise SystemExit(f"--teacher-params: {error}") from error


def add_quick_and_out(command: argparse.ArgumentParser, *, quick: str) -> None:
    """--quick (what a smoke run of the command leaves out: `quick`) and --out: every command's."""
    command.add_argument("--quick", action="store_true", help=quick)
    command.add_argument("--out", type=Path, help="write the JSON result here")


def add_loss_options(command: argparse.ArgumentParser) -> None:
    """How patches are drawn and what the loss weighs (add_common's, split off for length)."""
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
        help="train once per seed, e.g. 0,1,2 (default: --seed alone): every run is reported, and per "
        "score their mean, sample standard deviation (sd) and range (min-max), in the JSON's summaries "
        "and a table on stderr; label-efficiency and fluorescence-teacher also score the seeds' "
        "averaged probabilities (an ensemble); simulated scribbles keep --seed, so only the training changes",
    )


def scale_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW,HIGH (for example 0.5,2)") from None
    return low, high


def seed_list(text: str) -> list[int]:
    seeds = number_list(text, int, "is not a list of whole numbers (for example 0,1,2)")
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r} must name at least one seed, each once")
    return seeds


def number_list(text: str, kind: Callable[[str], Number], wrong: str) -> list[Number]:
    """Comma-separated numbers (blanks skipped); `wrong` ends the error for a word that is not one."""
    try:
        return [kind(value) for value in text.split(",") if value.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} {wrong}") from None
