"""From a frozen snapshot to training samples: the human label rule over derived pseudo-masks,
validation images scored only by their dense masks, ranges from the training images alone."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import services
from labeling.models import Split
from tests.factories import ome_tiff_bytes, png_bytes
from training.ml.config import TrainConfig
from training.runs.snapshot import class_lookup, label_snapshot, load_run_data, training_sample
from training.runs.spec import RunSpec

UNKNOWN = -1


def test_a_training_sample_takes_scribbles_over_the_mask_and_derived_labels_only_where_nobody_labelled():
    lookup = class_lookup([1, 2])  # label value 1 -> class 0, 2 -> class 1, 0 -> unknown
    dense = np.array([[1, 1, 0, 0]], dtype=np.uint16)
    scribble = np.array([[2, 0, 1, 0]], dtype=np.uint16)
    derived = np.array([[1, 2, 2, 2]], dtype=np.uint16)
    x = np.zeros((1, 1, 4), dtype=np.float32)
    sample = training_sample(
        x, {"dense": [dense], "scribble": [scribble], "derived": [derived]}, lookup, 0.25
    )
    assert sample.target.tolist() == [[1, 0, 0, 1]]
    assert sample.weight.tolist() == [[1.0, 1.0, 1.0, 0.25]]


def test_an_image_with_derived_labels_alone_trains_at_their_weight():
    lookup = class_lookup([1, 2])
    derived = np.array([[0, 2]], dtype=np.uint16)
    sample = training_sample(np.zeros((1, 1, 2), np.float32), {"derived": [derived]}, lookup, 0.5)
    assert sample.target.tolist() == [[UNKNOWN, 1]] and sample.weight.tolist() == [[0.0, 0.5]]


def image_with(project, user, name, pixels, *, split=Split.UNASSIGNED):
    (image,) = services.image_ingest(
        project=project,
        uploader=user,
        uploads=[services.Upload(f"{name}.png", png_bytes(pixels))],
        split=split,
    )
    return image


@pytest.mark.django_db
def test_a_snapshot_becomes_samples_of_its_frozen_versions(project, users):
    owner, annotator = users["owner"], users["annotator"]
    train_pixels = np.full((8, 8), 100, dtype=np.uint8)
    train_pixels[:, :2], train_pixels[:, -2:] = 50, 150  # the training image's range: 50..150
    train = image_with(project, owner, "a-train", train_pixels)
    validation = image_with(project, owner, "b-val", np.full((8, 8), 250, np.uint8), split=Split.VALIDATION)
    mask = np.ones((8, 8), np.uint8)
    mask[:4] = 2
    services.annotation_save(
        image=train, author=owner, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
    )
    stroke = {"class_index": 1, "radius": 1, "points": [[1, 1]]}  # a background dot over the nucleus half
    services.annotation_save(
        image=train, author=annotator, kind="scribble", base_version=0, data={"strokes": [stroke]}
    )
    services.annotation_save(
        image=validation, author=owner, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
    )
    services.annotation_save(
        image=validation, author=annotator, kind="scribble", base_version=0, data={"strokes": [stroke]}
    )
    snapshot = label_snapshot(project=project, sources=["scribble", "dense", "derived"], derived=None)
    assert len(snapshot) == 3, "a validation image's scribbles are not frozen"
    # Labelling goes on after the snapshot: the samples are of the frozen versions.
    services.annotation_save(
        image=train,
        author=annotator,
        kind="scribble",
        base_version=1,
        data={"strokes": [{**stroke, "points": [[6, 6]], "class_index": 2}]},
    )
    spec = RunSpec(train=TrainConfig(patch_size=64), channels=("gray",), classes=(1, 2))
    data = load_run_data(snapshot, spec)
    assert data.train_images == [train] and data.validation_images == [validation]
    target = data.train[0].target
    assert target[1, 1] == 0 and target[0, 3] == 1, "the scribbled dot wins over the dense mask"
    assert target[6, 6] == 0, "the stroke saved after the snapshot is not in it"
    assert (data.validation[0].target == np.where(mask == 2, 1, 0)).all()
    low, high = data.ranges[0]
    assert 50 <= low < high <= 150, "ranges come from the training images only (the validation one is 250)"


@pytest.mark.django_db
def test_the_planes_of_a_stack_train_like_2d_images_with_their_own_pixels(project, users):
    """A z-stack is one image per plane, so training samples planes with no change of its own."""
    owner = users["owner"]
    stack = np.stack([np.full((8, 8), 40 * (z + 1), np.uint8) for z in range(3)])
    services.image_ingest(
        project=project,
        uploader=owner,
        uploads=[services.Upload("deep.ome.tif", ome_tiff_bytes(stack, axes="ZYX", channels=["gray"]))],
    )
    plane = project.images.get(name="deep z02 t00")
    mask = np.ones((8, 8), np.uint8)
    mask[:4] = 2
    services.annotation_save(
        image=plane, author=owner, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
    )
    snapshot = label_snapshot(project=project, sources=["dense"], derived=None)
    spec = RunSpec(train=TrainConfig(patch_size=64), channels=("gray",), classes=(1, 2))
    data = load_run_data(snapshot, spec)
    assert data.train_images == [plane]
    assert (data.train[0].target == np.where(mask == 2, 1, 0)).all()
    low, high = data.ranges[0]
    assert low <= 120 <= high and not low <= 40 <= high, "the ranges are of plane z02's pixels (120)"


@pytest.mark.django_db
def test_a_run_on_other_sources_than_dense_masks_is_still_scored_on_the_validation_masks(project, users):
    """Validation images are scored by their dense masks whatever the run learns from: a run on
    the teacher's pseudo-masks (or on scribbles) alone, without "dense" among its sources."""
    owner, annotator = users["owner"], users["annotator"]
    mask = np.ones((8, 8), np.uint8)
    mask[:4] = 2
    train = image_with(project, owner, "a-train", np.full((8, 8), 100, np.uint8))
    validation = image_with(project, owner, "b-val", np.full((8, 8), 120, np.uint8), split=Split.VALIDATION)
    painted = services.annotation_save(
        image=train, author=owner, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
    )
    stroke = {"class_index": 2, "radius": 1, "points": [[1, 1]]}
    scribble = services.annotation_save(
        image=train, author=annotator, kind="scribble", base_version=0, data={"strokes": [stroke]}
    )
    derived = services.annotation_save(
        image=train,
        author=owner,
        kind="derived",
        base_version=0,
        data={"provenance": {"source": "fluorescence-teacher"}},
        mask=png_bytes(mask),
    )
    truth = services.annotation_save(
        image=validation, author=owner, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
    )
    for sources, learnt in ((["derived"], derived), (["scribble"], scribble)):
        snapshot = label_snapshot(project=project, sources=sources, derived=None)
        assert sorted(snapshot) == sorted([(learnt.pk, 1), (truth.pk, 1)]), sources
    # The training image's own dense mask stays out when "dense" is not a source.
    assert (painted.pk, 1) not in label_snapshot(project=project, sources=["derived"], derived=None)
