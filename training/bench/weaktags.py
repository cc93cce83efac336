"""weak-tags: a segmentation network from image-level tags only (Score-CAM U-Net), against dense.

The training images are cut into tiles of `--tag-tile` pixels, each tagged by whether it holds
any object pixel: that bit per tile is all the tag run sees of the labels. A tag classifier is
trained on those tiles, Score-CAM maps of the training images (in windows of `--tile` pixels)
are thresholded into pseudo-masks, tiles tagged absent are background, and a U-Net is trained on
the pseudo-masks. The same U-Net trained on the dense labels of the same images is the reference.
Both are scored per pixel (and per object) on the test images' ground truth.

Tag tiles are smaller than the CAM windows on purpose: in dense fields such as bbbc039 almost
every 128-px tile holds a nucleus (397 of 400), so 128-px tags carry nearly no information and
the classifier would see no negatives.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
from tqdm import tqdm

from training.bench.common import describe, load_split, normalizer, progress, score, train_config
from training.bench.datasets import Item
from training.bench.options import Commands, add_common, add_prediction
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
    pseudo_mask,
    train_classifier,
)


def add_command(commands: Commands) -> None:
    command = commands.add_parser("weak-tags", help="Score-CAM U-Net from tile tags vs dense labels")
    add_common(command)
    add_prediction(command)
    command.add_argument("--tile", type=int, default=128, help="Score-CAM window size in pixels")
    command.add_argument("--tag-tile", type=int, default=32, help="size of the tagged tiles in pixels")
    command.add_argument("--classifier-steps", type=int, default=400)
    command.add_argument("--classifier-depth", type=int, default=3, help="encoder stages (CAM stride 2**d)")
    command.add_argument("--low", type=float, default=CAM_LOW, help="CAM at or below: background")
    command.add_argument("--high", type=float, default=CAM_HIGH, help="CAM at or above: object")
    command.add_argument("--max-maps", type=int, default=None, help="Score-CAM maps per window (speed)")
    command.add_argument(
        "--dense", action=argparse.BooleanOptionalAction, default=True, help="also train on dense labels"
    )
    # The app's tags runs train with these; --no-class-weights measures the network without them.
    command.set_defaults(command=weak_tags, class_weights=PSEUDO_MASK_TRAINING["weight_classes"])


def weak_tags(args: argparse.Namespace) -> dict[str, Any]:
    train, test = load_split(args)
    prepare = normalizer(args, train)
    images = [prepare(item.image) for item in train]
    test_images = [prepare(item.image) for item in test]
    device = choose_device()
    classifier_config = ClassifierConfig(
        in_channels=images[0].shape[0],
        encoder=args.encoder,
        depth=args.classifier_depth,
        tile_size=args.tag_tile,
        steps=20 if args.quick else args.classifier_steps,
        batch_size=8 if args.quick else 32,
        seed=args.seed,
    )
    tiles = [tile for image, item in zip(images, train, strict=True) for tile in tag_tiles(image, item, args)]
    started = time.perf_counter()
    with progress(classifier_config.steps, "tag classifier") as on_step:
        classifier = train_classifier(
            tiles, classifier_config, device=device, callbacks=Callbacks(on_step=on_step)
        )
    targets = []
    for image, item in tqdm(list(zip(images, train, strict=True)), desc="Score-CAM", file=sys.stderr):
        cam = cam_map(classifier, image, device=device, tile=args.tile, max_maps=args.max_maps)
        targets.append(tags_target(cam, item, args))
    pseudo_seconds = time.perf_counter() - started
    config = train_config(args, in_channels=images[0].shape[0])
    result: dict[str, Any] = {"pseudo_masks": pseudo_quality(targets, train)}
    print(json.dumps(result["pseudo_masks"]), file=sys.stderr)
    runs = {"tags": targets, "dense": [item.classes for item in train]} if args.dense else {"tags": targets}
    for name, run_targets in runs.items():
        samples = [Sample(image, target) for image, target in zip(images, run_targets, strict=True)]
        with progress(config.steps, f"U-Net on {name}") as on_step:
            model = Trainer(
                config, train=samples, validation=[], device=device, callbacks=Callbacks(on_step=on_step)
            ).fit()
        predictions = [
            predict(model.model, image, device=device, tile=512, augment=args.test_time_augmentation).classes
            for image in test_images
        ]
        result[name] = {**score(predictions, test), "train_seconds": round(model.seconds, 1)}
        print(json.dumps({name: result[name]}), file=sys.stderr)
    result["tags"]["pseudo_mask_seconds"] = round(pseudo_seconds, 1)
    settings = {
        "tile": args.tile,
        "tag_tile": args.tag_tile,
        "tag_tiles": len(tiles),
        "tag_tiles_present": sum(t.present for t in tiles),
        "thresholds": {"low": args.low, "high": args.high},
        "max_maps": args.max_maps,
        "classifier": vars(classifier_config),
        "unet": config.to_dict(),
    }
    return {**result, "config": describe(args, settings, train, test)}


def tag_tiles(image: np.ndarray, item: Item, args: argparse.Namespace) -> list[TaggedTile]:
    """The image cut into whole tag tiles, each tagged by whether any object pixel is in it."""
    size = args.tag_tile
    height, width = item.classes.shape
    return [
        TaggedTile(
            image[:, top : top + size, left : left + size],
            bool(item.classes[top : top + size, left : left + size].any()),
        )
        for top in range(0, height - size + 1, size)
        for left in range(0, width - size + 1, size)
    ]


def tags_target(cam: np.ndarray, item: Item, args: argparse.Namespace) -> np.ndarray:
    """Thresholded CAM, with every tile tagged absent set to background (what its tag says)."""
    target = pseudo_mask(cam, present=True, low=args.low, high=args.high)
    size = args.tag_tile
    height, width = target.shape
    for top in range(0, height - size + 1, size):
        for left in range(0, width - size + 1, size):
            if not item.classes[top : top + size, left : left + size].any():
                target[top : top + size, left : left + size] = 0
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
