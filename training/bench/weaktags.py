"""weak-tags: a segmentation network from image-level tags only (Score-CAM U-Net), against dense.

The training images are cut into tiles of `--tag-tile` pixels, each tagged by whether it holds
any object pixel: that bit per tile is all the tag run sees of the labels. A tag classifier is
trained on those tiles, Score-CAM maps of the training images (in windows of `--tile` pixels)
are thresholded into pseudo-masks, tiles tagged absent are background, and a U-Net is trained on
the pseudo-masks. The same U-Net trained on the dense labels of the same images is the reference.
Both are scored per pixel (and per object) on the test images' ground truth.

The default tag tile (32 px, smaller than the CAM windows) was chosen because in dense fields such
as bbbc039 almost every 128-px tile holds a nucleus (397 of 400), so 128-px tags carry nearly no
information. Measured since (bench/README.md, "Tags per image"): on bbbc039 those 128-px tags
teach the U-Net more than 32-px ones all the same (0.848 against 0.741 pixel F1, three seeds);
on aisegcell's sparse nuclei no tag size does well. The default stays, as the bench's older rows
used it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from training.bench.common import (
    describe,
    load_split,
    normalizer,
    progress,
    save_progress,
    score,
    train_config,
)
from training.bench.datasets import Item
from training.bench.options import Commands, add_common, add_prediction, add_seeds
from training.bench.seeds import SCORES, print_spread_table, seed_name, seeds_of, spread
from training.ml.data import Sample
from training.ml.inference import predict
from training.ml.loop import Callbacks, Trainer, choose_device
from training.ml.metrics import pixel_scores
from training.ml.scorecam import (
    CAM_HIGH,
    CAM_LOW,
    PSEUDO_MASK_TRAINING,
    ClassifierConfig,
    TaggedTile,
    cam_map,
    cut,
    pseudo_mask,
    train_classifier,
)

IMAGE = "image"  # --tag-tile: one tag per image
# The pseudo-masks' quality over seeds (pseudo_quality's keys that vary with the classifier).
PSEUDO_MASK_SCORES = ("object_precision", "object_recall_of_known", "labelled_fraction")


def add_command(commands: Commands) -> None:
    command = commands.add_parser("weak-tags", help="Score-CAM U-Net from tile tags vs dense labels")
    add_common(command)
    add_seeds(command)
    add_prediction(command)
    add_tag_options(command)
    command.add_argument(
        "--dense", action=argparse.BooleanOptionalAction, default=True, help="also train on dense labels"
    )
    # The app's tags runs train with these; --no-class-weights measures the network without them.
    command.set_defaults(command=weak_tags, class_weights=PSEUDO_MASK_TRAINING["weight_classes"])


def add_tag_options(command: argparse.ArgumentParser) -> None:
    """The tags, the classifier and the Score-CAM maps: weak-tags' and cam-thresholds' options."""
    command.add_argument("--tile", type=int, default=128, help="Score-CAM window size in pixels")
    command.add_argument(
        "--tag-tile",
        type=tag_size,
        default=32,
        help='size of the tagged tiles in pixels, or "image": one tag per image (the classifier sees '
        "its --tile pieces, each with the image's tag)",
    )
    command.add_argument("--classifier-steps", type=int, default=400)
    command.add_argument("--classifier-depth", type=int, default=3, help="encoder stages (CAM stride 2**d)")
    command.add_argument("--low", type=float, default=CAM_LOW, help="CAM at or below: background")
    command.add_argument("--high", type=float, default=CAM_HIGH, help="CAM at or above: object")
    command.add_argument("--max-maps", type=int, default=None, help="Score-CAM maps per window (speed)")


def weak_tags(args: argparse.Namespace) -> dict[str, Any]:
    """With one seed, "pseudo_masks", "tags" and "dense" hold that run's scores. With --seeds,
    the whole protocol (classifier, Score-CAM, both U-Nets) runs once per seed: "<name>_runs"
    hold every seed's, "<name>_summary" their mean and spread (and a table on stderr)."""
    train, test = load_split(args)
    prepare = normalizer(args, train)
    images = [prepare(item.image) for item in train]
    test_images = [prepare(item.image) for item in test]
    device = choose_device()
    seeds = seeds_of(args)
    tiles = [tile for image, item in zip(images, train, strict=True) for tile in tag_tiles(image, item, args)]
    present = sum(tile.present for tile in tiles)
    if present in (0, len(tiles)):
        said = tags_said(train, args)
        raise SystemExit(
            f"--tag-tile {args.tag_tile}: {present} of the training images' {said} tags say present: "
            "a classifier needs some of each (as the app's tags runs do); use smaller tiles"
        )
    settings = {
        "tile": args.tile,
        "tag_tile": args.tag_tile,
        "tag_tiles": len(tiles),
        "tag_tiles_present": sum(t.present for t in tiles),
        "tags_per_image": round(tags_said(train, args) / len(train), 1),
        "thresholds": {"low": args.low, "high": args.high},
        "max_maps": args.max_maps,
        "classifier": vars(classifier_settings(args, images, seeds[0])),
        "unet": train_config(args, in_channels=images[0].shape[0]).replace(seed=seeds[0]).to_dict(),
    }
    config = describe(args, settings, train, test)
    runs: list[dict[str, Any]] = []
    for seed in seeds:
        runs.append(seed_run(args, seed, (images, tiles, train), (test_images, test), device, seeds=seeds))
        if len(seeds) > 1:
            save_progress(args, {**by_name(runs), "config": config})
    if len(seeds) == 1:
        return {**runs[0], "config": config}
    result = by_name(runs)
    for name in runs[0]:
        metrics = PSEUDO_MASK_SCORES if name == "pseudo_masks" else SCORES
        result[f"{name}_summary"] = spread(result[f"{name}_runs"], metrics=metrics, keep=())
    print_spread_table([(name, result[f"{name}_summary"]) for name in runs[0] if name != "pseudo_masks"])
    print_spread_table([("pseudo-masks", result["pseudo_masks_summary"])], metrics=PSEUDO_MASK_SCORES)
    return {**result, "config": config}


def classifier_settings(args: argparse.Namespace, images: list[np.ndarray], seed: int) -> ClassifierConfig:
    return ClassifierConfig(
        in_channels=images[0].shape[0],
        encoder=args.encoder,
        depth=args.classifier_depth,
        tile_size=args.tile if args.tag_tile == IMAGE else args.tag_tile,
        steps=20 if args.quick else args.classifier_steps,
        batch_size=8 if args.quick else 32,
        seed=seed,
    )


def seed_run(
    args: argparse.Namespace,
    seed: int,
    training: tuple[list[np.ndarray], list[TaggedTile], list[Item]],
    testing: tuple[list[np.ndarray], list[Item]],
    device: torch.device,
    *,
    seeds: list[int],
) -> dict[str, dict[str, Any]]:
    """The protocol with one seed: the tag classifier on the (normalised) training `images`'
    tag `tiles`, their Score-CAM pseudo-masks, and a U-Net on them (and one on the dense labels),
    scored on the test images. Each part's scores, by name."""
    images, tiles, train = training
    test_images, test = testing
    name = seed_name(seeds, seed)
    classifier_config = classifier_settings(args, images, seed)
    started = time.perf_counter()
    with progress(classifier_config.steps, f"{name}tag classifier") as on_step:
        classifier = train_classifier(
            tiles, classifier_config, device=device, callbacks=Callbacks(on_step=on_step)
        )
    targets = []
    for image, item in tqdm(list(zip(images, train, strict=True)), desc=f"{name}Score-CAM", file=sys.stderr):
        absent = tagged_absent(item, args)
        cam = cam_map(
            classifier, image, device=device, tile=args.tile, max_maps=args.max_maps, needed=~absent
        )
        targets.append(tags_target(cam, absent, args))
    pseudo_seconds = time.perf_counter() - started
    config = train_config(args, in_channels=images[0].shape[0]).replace(seed=seed)
    result: dict[str, dict[str, Any]] = {"pseudo_masks": {**pseudo_quality(targets, train), "seed": seed}}
    print(json.dumps(result["pseudo_masks"]), file=sys.stderr)
    runs = {"tags": targets, "dense": [item.classes for item in train]} if args.dense else {"tags": targets}
    for run_name, run_targets in runs.items():
        samples = [Sample(image, target) for image, target in zip(images, run_targets, strict=True)]
        with progress(config.steps, f"{name}U-Net on {run_name}") as on_step:
            model = Trainer(
                config, train=samples, validation=[], device=device, callbacks=Callbacks(on_step=on_step)
            ).fit()
        predictions = [
            predict(model.model, image, device=device, tile=512, augment=args.test_time_augmentation).classes
            for image in test_images
        ]
        result[run_name] = {
            **score(predictions, test),
            "train_seconds": round(model.seconds, 1),
            "seed": seed,
        }
        print(json.dumps({run_name: result[run_name]}), file=sys.stderr)
    result["tags"]["pseudo_mask_seconds"] = round(pseudo_seconds, 1)
    return result


def by_name(runs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The seeds' runs regrouped: "<name>_runs" lists every seed's scores of that part."""
    return {f"{name}_runs": [run[name] for run in runs] for name in runs[0]}


def tag_size(raw: str) -> int | str:
    """--tag-tile: a tile size in pixels (at least 8), or "image"."""
    if raw == IMAGE:
        return raw
    size = int(raw)
    if size < 8:
        raise argparse.ArgumentTypeError(f'a tag tile needs at least 8 pixels, or "{IMAGE}"; got {raw}')
    return size


def tag_regions(item: Item, args: argparse.Namespace) -> list[tuple[slice, slice]]:
    """Where the tags are said: the whole image, or each whole tag tile (the strips at the right
    and bottom edges that no whole tile covers are left untagged)."""
    height, width = item.classes.shape
    if args.tag_tile == IMAGE:
        return [(slice(0, height), slice(0, width))]
    size = args.tag_tile
    return [
        (slice(top, top + size), slice(left, left + size))
        for top in range(0, height - size + 1, size)
        for left in range(0, width - size + 1, size)
    ]


def tags_said(train: list[Item], args: argparse.Namespace) -> int:
    """How many tags the training images take: the labelling effort of this granularity."""
    return sum(len(tag_regions(item, args)) for item in train)


def tag_tiles(image: np.ndarray, item: Item, args: argparse.Namespace) -> list[TaggedTile]:
    """What the classifier learns from: each tag tile, tagged by whether any object pixel is in
    it; with image tags, the image's --tile pieces, each with the image's tag (as the app cuts them)."""
    if args.tag_tile == IMAGE:
        present = bool(item.classes.any())
        return [TaggedTile(piece, present) for piece in cut(image, args.tile)]
    classes = item.classes  # made anew on each access
    return [
        TaggedTile(image[:, rows, columns], bool(classes[rows, columns].any()))
        for rows, columns in tag_regions(item, args)
    ]


def tagged_absent(item: Item, args: argparse.Namespace) -> np.ndarray:
    """(H, W) bool: the pixels of the tag regions without an object, which are tagged absent."""
    classes = item.classes  # made anew on each access
    absent = np.zeros(classes.shape, dtype=bool)
    for rows, columns in tag_regions(item, args):
        if not classes[rows, columns].any():
            absent[rows, columns] = True
    return absent


def tags_target(cam: np.ndarray, absent: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """Thresholded CAM, with every region tagged absent set to background (what its tag says)."""
    target = pseudo_mask(cam, present=True, low=args.low, high=args.high)
    target[absent] = 0
    return target


def pseudo_quality(targets: list[np.ndarray], train: list[Item]) -> dict[str, float]:
    """How right the pseudo-masks are where they say something, and how much they say."""
    predicted = np.concatenate([t.ravel() for t in targets])
    truth = np.concatenate([item.classes.ravel() for item in train])
    known = predicted >= 0
    scores = pixel_scores(predicted[known], truth[known], num_classes=2)
    return {
        "object_precision": scores[1]["precision"],
        "object_recall_of_known": scores[1]["recall"],
        "labelled_fraction": float(known.mean()),
        "object_labelled_fraction": float((predicted == 1).mean()),
        "true_object_fraction": float(truth.mean()),
    }
