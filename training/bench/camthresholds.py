"""cam-thresholds: how rules for turning Score-CAM maps into pseudo-masks label the training images.

The weak-tags protocol's first half (tag tiles, the tag classifier, Score-CAM maps of the training
images), then each rule's pseudo-masks scored against the training images' ground truth, which no
rule sees: how precise their object labels are, how much of the objects they label. No U-Net is
trained, so rules are compared in minutes; the U-Net's pixel F1 follows the object labels'
precision (bench/README.md, "Weak tags"). The rules:
- fixed: --low / --high, the app's defaults (CAM_LOW, CAM_HIGH, chosen on bbbc039's first 20 images);
- multi-otsu: each image's own two thresholds, three-class Otsu over its CAM where tags say present;
- tile-relative R: in each tile tagged present, object where the CAM reaches R of that tile's peak;
- tag-youden: the threshold at which "a tile's peak CAM reaches it" best separates the tiles tagged
  present from those tagged absent (the tags themselves as the yardstick).
Tiles tagged absent are background under every rule. `--cam-scales` runs every rule on the maps
put on [0, 1] in other ways (scorecam.CAM_SCALES, and "run": the unscaled maps divided by the run's
peak), from one Score-CAM pass.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from skimage.filters import threshold_multiotsu
from tqdm import tqdm

from training.bench.common import describe, load_split, normalizer, progress
from training.bench.datasets import Item
from training.bench.options import Commands, add_common
from training.bench.weaktags import (
    add_tag_options,
    classifier_settings,
    pseudo_quality,
    tag_regions,
    tag_tiles,
)
from training.ml.loop import Callbacks, choose_device
from training.ml.scorecam import (
    BACKGROUND,
    CAM_SCALES,
    OBJECT,
    UNKNOWN,
    cam_maps,
    pseudo_mask,
    train_classifier,
)

Rule = Callable[[np.ndarray, Item], np.ndarray]


RUN = "run"


def cam_scales(raw: str) -> tuple[str, ...]:
    scales = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [scale for scale in scales if scale not in (*CAM_SCALES, RUN)]
    if not scales or unknown:
        raise argparse.ArgumentTypeError(
            f"{raw!r}: name some of {', '.join((*CAM_SCALES, RUN))}, separated by commas"
        )
    return scales


def add_command(commands: Commands) -> None:
    command = commands.add_parser("cam-thresholds", help="pseudo-mask rules for Score-CAM maps, scored")
    add_common(command)  # the data and split (the test images are left out); --quick: a 20-step classifier
    add_tag_options(command)
    command.add_argument("--relative", default="0.85,0.95", help="tile-relative rules' fractions of the peak")
    command.add_argument(
        "--cam-scales",
        type=cam_scales,
        default=("window",),
        help=f"how maps are put on [0, 1]: some of {', '.join((*CAM_SCALES, RUN))} (default: the app's)",
    )
    command.set_defaults(command=cam_thresholds)


def cam_thresholds(args: argparse.Namespace) -> dict[str, Any]:
    train, _ = load_split(args)
    prepare = normalizer(args, train)
    images = [prepare(item.image) for item in train]
    tiles = [tile for image, item in zip(images, train, strict=True) for tile in tag_tiles(image, item, args)]
    config = classifier_settings(args, images, args.seed)
    device = choose_device()
    with progress(config.steps, "tag classifier") as on_step:
        classifier = train_classifier(tiles, config, device=device, callbacks=Callbacks(on_step=on_step))
    scales = tuple(scale for scale in args.cam_scales if scale != RUN)
    maps = [
        cam_maps(classifier, image, device=device, tile=args.tile, max_maps=args.max_maps, scales=scales)
        for image in tqdm(images, desc="Score-CAM", file=sys.stderr)
    ]
    run_peak = max(float(image_maps["raw"].max()) for image_maps in maps)
    scored = {}
    for scale in args.cam_scales:
        if scale == RUN:
            cams = [m["raw"] / run_peak if run_peak > 0 else m["raw"] for m in maps]
        else:
            cams = [m[scale] for m in maps]
        prefix = f"{scale}: " if len(args.cam_scales) > 1 else ""
        for name, rule in rules_of(args, cams, train).items():
            targets = [rule(cam, item) for cam, item in zip(cams, train, strict=True)]
            scored[prefix + name] = pseudo_scores(targets, train)
    settings = {
        "tag_tile": args.tag_tile,
        "tile": args.tile,
        "max_maps": args.max_maps,
        "cam_scales": list(args.cam_scales),
        "classifier": vars(config),
    }
    return {"rules": scored, "config": describe(args, settings, train, [])}


def rules_of(args: argparse.Namespace, cams: list[np.ndarray], train: list[Item]) -> dict[str, Rule]:
    youden = tag_youden(cams, train, args)
    rules: dict[str, Rule] = {
        f"fixed {args.low}/{args.high}": lambda cam, item: fixed(cam, item, args, args.low, args.high),
        "multi-otsu": lambda cam, item: multi_otsu(cam, item, args),
        f"tag-youden ({youden:.2f})": lambda cam, item: fixed(
            cam, item, args, min(args.low, youden / 2), youden
        ),
    }
    for share in (float(raw) for raw in args.relative.split(",")):
        rules[f"tile-relative {share}"] = partial(tile_relative, args=args, share=share)
    return rules


def present(item: Item, args: argparse.Namespace) -> np.ndarray:
    """Where the tags say present: the union of the regions tagged present."""
    classes, mask = item.classes, np.zeros(item.classes.shape, dtype=bool)
    for rows, columns in tag_regions(item, args):
        mask[rows, columns] |= bool(classes[rows, columns].any())
    return mask


def fixed(cam: np.ndarray, item: Item, args: argparse.Namespace, low: float, high: float) -> np.ndarray:
    target = pseudo_mask(cam, present=True, low=low, high=high)
    target[~present(item, args)] = BACKGROUND
    return target


def multi_otsu(cam: np.ndarray, item: Item, args: argparse.Namespace) -> np.ndarray:
    inside = present(item, args)
    values = cam[inside]
    if values.size < 3 or values.min() == values.max():
        return fixed(cam, item, args, args.low, args.high)
    low, high = threshold_multiotsu(values, classes=3)
    return fixed(cam, item, args, float(low), float(high))


def tile_relative(cam: np.ndarray, item: Item, args: argparse.Namespace, share: float) -> np.ndarray:
    target = np.full(cam.shape, UNKNOWN, dtype=np.int64)
    target[cam <= args.low] = BACKGROUND
    classes = item.classes
    for rows, columns in tag_regions(item, args):
        region = target[rows, columns]
        if not classes[rows, columns].any():
            region[...] = BACKGROUND
        else:
            region[cam[rows, columns] >= share * cam[rows, columns].max()] = OBJECT
    return target


def tag_youden(cams: list[np.ndarray], train: list[Item], args: argparse.Namespace) -> float:
    """The threshold t maximising TPR - FPR of "the tile's peak CAM >= t" against the tile tags."""
    peaks: dict[bool, list[float]] = {True: [], False: []}
    for cam, item in zip(cams, train, strict=True):
        classes = item.classes
        for rows, columns in tag_regions(item, args):
            peaks[bool(classes[rows, columns].any())].append(float(cam[rows, columns].max()))
    if not peaks[True] or not peaks[False]:
        return args.high
    positive, negative = np.array(peaks[True]), np.array(peaks[False])
    candidates = np.linspace(0.05, 0.99, 95)
    separation = [(positive >= t).mean() - (negative >= t).mean() for t in candidates]
    return float(candidates[int(np.argmax(separation))])


def pseudo_scores(targets: list[np.ndarray], train: list[Item]) -> dict[str, float]:
    """pseudo_quality's scores, and the share of all true object pixels labelled object."""
    labelled = np.concatenate([(t == OBJECT).ravel() for t in targets])
    truth = np.concatenate([item.classes.ravel() for item in train]).astype(bool)
    scores = pseudo_quality(targets, train)
    return {
        key: round(value, 4)
        for key, value in {**scores, "object_recall": float(labelled[truth].mean())}.items()
    }
