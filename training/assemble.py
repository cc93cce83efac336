"""What a run trains on, read from the database: its frozen labels turned into training samples.

The bridge between the labeling app's label maps (0 = unlabelled, v = the class with index v)
and the learning core's targets (-1 = unknown, k = the run's k-th class). Human labels (dense
masks, with scribbles on top) win over derived pseudo-masks, which only fill what no person
labelled and count with the run's lower `derived_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labeling import selectors
from labeling.models import Annotation, AnnotationKind, Image, Split
from training.ml.config import TrainConfig
from training.ml.data import UNKNOWN, Sample, channel_ranges, merge_targets, normalize
from training.models import TrainingRun


@dataclass
class RunData:
    train: list[Sample]
    validation: list[Sample]
    train_images: list[Image]
    validation_images: list[Image]
    # Per channel (low, high), measured over the training images together: every image, at
    # training and later at prediction, is scaled by these, so an empty field stays dark.
    ranges: list[tuple[float, float]]


def image_planes(image: Image, channels: list[str]) -> np.ndarray:
    """The original (C, H, W) pixels of an image, channels in the run's order."""
    by_name = {channel.name: channel for channel in image.channels.select_related("source")}
    missing = [name for name in channels if name not in by_name]
    if missing:
        raise ValueError(f"image {image.pk} ({image.name}) has no channel {', '.join(missing)}")
    return np.stack([selectors.channel_plane(by_name[name]) for name in channels])


def image_input(image: Image, channels: list[str], ranges: list[tuple[float, float]] | None) -> np.ndarray:
    """The normalised (C, H, W) float32 input of an image: with the model's fixed channel ranges
    when it has them (every model trained here does), else by the image's own percentiles."""
    return normalize(image_planes(image, channels), ranges=ranges)


def class_lookup(classes: list[int]) -> np.ndarray:
    """Label-map value -> model class id (-1 for unlabelled and unknown values)."""
    lookup = np.full(2**16, UNKNOWN, dtype=np.int64)
    lookup[np.asarray(classes, dtype=np.int64)] = np.arange(len(classes))
    return lookup


def to_label_indices(class_map: np.ndarray, classes: list[int]) -> np.ndarray:
    """Model class ids -> label-map values (class indices), for storing predictions."""
    return np.asarray(classes, dtype=np.uint16)[class_map]


def load_run_data(run: TrainingRun) -> RunData:
    versions = {int(pk): int(version) for pk, version in run.label_snapshot}
    lookup = class_lookup(run.config["classes"])
    layers: dict[int, dict[str, list[np.ndarray]]] = {}
    images: dict[int, Image] = {}
    annotations = Annotation.objects.filter(pk__in=versions).select_related("image").order_by("key", "pk")
    for annotation in annotations:
        label_map = selectors.label_map_at(annotation, versions[annotation.pk])
        layers.setdefault(annotation.image_id, {}).setdefault(annotation.kind, []).append(lookup[label_map])
        images[annotation.image_id] = annotation.image
    if not images:
        raise ValueError("the run's label snapshot is empty: nothing to train on")
    config = TrainConfig.from_dict(run.config["train"])
    channels = run.config["channels"]
    ordered = sorted(images.values(), key=lambda image: (image.name, image.pk))
    planes = {image.pk: image_planes(image, channels) for image in ordered}
    ranges = channel_ranges([planes[image.pk] for image in ordered if image.split != Split.VALIDATION])
    data = RunData(train=[], validation=[], train_images=[], validation_images=[], ranges=ranges)
    for image in ordered:
        by_kind = layers[image.pk]
        x = normalize(planes.pop(image.pk), ranges=ranges)
        if image.split == Split.VALIDATION:
            data.validation.append(Sample(x, by_kind[AnnotationKind.DENSE][0]))
            data.validation_images.append(image)
            continue
        human = _overlay(by_kind.get(AnnotationKind.DENSE, []) + by_kind.get(AnnotationKind.SCRIBBLE, []))
        derived = _overlay(by_kind.get(AnnotationKind.DERIVED, []))
        target, weight = merge_targets(human, derived, derived_weight=config.derived_weight)
        data.train.append(Sample(x, target, weight))
        data.train_images.append(image)
    return data


def _overlay(maps: list[np.ndarray]) -> np.ndarray | None:
    """Later maps win where they say something; None when there are none."""
    if not maps:
        return None
    out = maps[0].copy()
    for later in maps[1:]:
        known = later >= 0
        out[known] = later[known]
    return out
