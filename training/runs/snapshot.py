"""A run's label snapshot: the labels frozen when it is started, and the samples made from them.

The bridge between the labeling app's label maps (0 = unlabelled, v = the class with index v)
and the learning core's targets (-1 = unknown, k = the run's k-th class). Human labels (the one
rule of labelmaps.human_label_map: scribbles over the dense mask) win over derived pseudo-masks,
which only fill what no person labelled and count with the run's lower `derived_weight`.
Validation images train nothing: only their dense masks are frozen, to score the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labeling import labelmaps, selectors
from labeling.models import AnnotationKind, Image, Project, Split
from training.ml.data import UNKNOWN, Sample, channel_ranges, merge_targets, normalize
from training.runs.spec import LABEL_SOURCES, RunSpec, derived_sources, label_approval, label_sources

Snapshot = list[tuple[int, int]]  # (annotation id, version) of every frozen layer


# Freezing ------------------------------------------------------------------------------------


def label_snapshot(
    *, project: Project, sources: Sequence[str], derived: Sequence[str] | None, approved_only: bool = False
) -> Snapshot:
    """(annotation id, version) of the labels a run learns from: any of `sources` on training
    images, only dense masks on validation images (they score the run, never train it), nothing
    of inference-only images (models are applied to them, never trained or scored on them).

    `approved_only` keeps, of the training images, the approved ones, with their human layers at
    the versions their approval froze (selectors.approved_layers) and their derived layers as
    they are; validation images are scored as always (their masks train nothing)."""
    # The validation images' dense masks are read whatever the sources are: a run on pseudo-masks
    # or scribbles alone is scored on them like any other.
    rows = selectors.live_layers(project, {*sources, AnnotationKind.DENSE})
    if approved_only:
        approved = [
            row for row in selectors.approved_layers(project, sources) if row.split != Split.VALIDATION
        ]
        images = {row.image for row in approved}
        rows = [
            *approved,
            *(
                row
                for row in rows
                if row.split == Split.VALIDATION
                or (row.kind == AnnotationKind.DERIVED and row.image in images)
            ),
        ]
    return [
        (row.annotation, row.version)
        for row in rows
        if row.split != Split.INFERENCE
        and (row.kind == AnnotationKind.DENSE if row.split == Split.VALIDATION else row.kind in sources)
        and (row.kind != AnnotationKind.DERIVED or derived is None or row.key in derived)
    ]


@dataclass(frozen=True)
class SnapshotImages:
    train: list[int]  # by image name, then id: `train_image_limit` k keeps the first k
    validation: list[int]


def snapshot_images(snapshot: Snapshot) -> SnapshotImages:
    """The images a label snapshot covers, training and validation apart."""
    rows = selectors.layer_images(pk for pk, _ in snapshot)
    train = [image for image, split in rows if split != Split.VALIDATION]
    validation = [image for image, split in rows if split == Split.VALIDATION]
    return SnapshotImages(train=list(dict.fromkeys(train)), validation=list(dict.fromkeys(validation)))


def first_train_images(snapshot: Snapshot, limit: int) -> Snapshot:
    """The snapshot's labels of its first `limit` training images, and all its validation labels."""
    images = snapshot_images(snapshot)
    kept = selectors.layers_on((pk for pk, _ in snapshot), images.train[:limit] + images.validation)
    return [(pk, version) for pk, version in snapshot if pk in kept]


def labelled_images(*, project: Project, options: dict[str, Any]) -> SnapshotImages:
    """The images a run with these options (label_sources, derived_sources, label_approval) would
    learn from now."""
    sources = label_sources(options.get("label_sources", list(LABEL_SOURCES)))
    derived = derived_sources(options.get("derived_sources"))
    approved = label_approval(options.get("label_approval", "all")) == "approved"
    return snapshot_images(
        label_snapshot(project=project, sources=sources, derived=derived, approved_only=approved)
    )


# Samples -------------------------------------------------------------------------------------


@dataclass
class RunData:
    train: list[Sample]
    validation: list[Sample]
    train_images: list[Image]
    validation_images: list[Image]
    # Per channel (low, high), measured over the training images together: every image, at
    # training and later at prediction, is scaled by these, so an empty field stays dark.
    ranges: list[tuple[float, float]]


def image_input(
    image: Image, channels: Sequence[str], ranges: list[tuple[float, float]] | None
) -> np.ndarray:
    """The normalised (C, H, W) float32 input of an image: with the model's fixed channel ranges
    when it has them (every model trained here does), else by the image's own percentiles."""
    return normalize(selectors.image_planes(image, channels), ranges=ranges)


def class_lookup(classes: Sequence[int]) -> np.ndarray:
    """Label-map value -> model class id (-1 for unlabelled and unknown values)."""
    lookup = np.full(2**16, UNKNOWN, dtype=np.int64)
    lookup[np.asarray(classes, dtype=np.int64)] = np.arange(len(classes))
    return lookup


def to_label_indices(class_map: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Model class ids -> label-map values (class indices), for storing predictions."""
    return np.asarray(classes, dtype=np.uint16)[class_map]


def load_run_data(snapshot: Sequence[Sequence[int]], spec: RunSpec) -> RunData:
    """The training and validation samples of a frozen snapshot, scaled by the training images' ranges."""
    versions = {int(pk): int(version) for pk, version in snapshot}
    layers: dict[int, dict[str, list[np.ndarray]]] = {}
    images: dict[int, Image] = {}
    for layer in selectors.frozen_layers(versions):
        label_map = selectors.label_map_at(layer, versions[layer.pk])
        layers.setdefault(layer.image_id, {}).setdefault(layer.kind, []).append(label_map)
        images[layer.image_id] = layer.image
    # An image moved to the inference-only set after the run was started is not learnt from.
    ordered = sorted(
        (image for image in images.values() if image.split != Split.INFERENCE),
        key=lambda image: (image.name, image.pk),
    )
    if not ordered:
        raise ValueError("the run's label snapshot is empty: nothing to train on")
    planes = {image.pk: selectors.image_planes(image, spec.channels) for image in ordered}
    ranges = channel_ranges([planes[image.pk] for image in ordered if image.split != Split.VALIDATION])
    data = RunData(train=[], validation=[], train_images=[], validation_images=[], ranges=ranges)
    lookup = class_lookup(spec.classes)
    for image in ordered:
        x = normalize(planes.pop(image.pk), ranges=ranges)
        if image.split == Split.VALIDATION:
            data.validation.append(Sample(x, lookup[layers[image.pk][AnnotationKind.DENSE][0]]))
            data.validation_images.append(image)
        else:
            data.train.append(training_sample(x, layers[image.pk], lookup, spec.train.derived_weight))
            data.train_images.append(image)
    return data


def training_sample(
    x: np.ndarray, maps: dict[str, list[np.ndarray]], lookup: np.ndarray, derived_weight: float
) -> Sample:
    """A training image's sample from its frozen label maps by kind: the human label map (the one
    rule: scribbles over the dense mask), derived pseudo-masks where no person labelled, at
    `derived_weight`."""
    dense, scribble = (maps.get(kind, [None])[0] for kind in (AnnotationKind.DENSE, AnnotationKind.SCRIBBLE))
    human = labelmaps.human_label_map(dense, scribble)
    derived = _overlay([lookup[m] for m in maps.get(AnnotationKind.DERIVED, [])])
    target, weight = merge_targets(
        None if human is None else lookup[human], derived, derived_weight=derived_weight
    )
    return Sample(x, target, weight)


def _overlay(maps: list[np.ndarray]) -> np.ndarray | None:
    """Derived layers of several sources: later ones win where they say something; None for none."""
    if not maps:
        return None
    out = maps[0].copy()
    for later in maps[1:]:
        known = later >= 0
        out[known] = later[known]
    return out
