"""Images in the inference-only split are predicted, never learnt from: no run's label snapshot,
tags or pretraining images, no study and no guided-labelling ranking holds them, whatever labels
they carry."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import services
from labeling.models import Image, Split
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from training.features import guidance, study
from training.runs import snapshot
from training.runs.spec import LABEL_SOURCES
from training.strategies import strategy_named
from training.strategies.tags import frozen_tags

pytestmark = pytest.mark.django_db

QUICK = {"patch_size": 64, "batch_size": 4, "steps": 30, "steps_per_epoch": 10, "warmup_steps": 5}


def labelled(project, user, name: str, split: str) -> Image:
    """An image of `split` with a dense mask, a scribble and a "nucleus present" tag."""
    field = synthetic_field(seed=len(name), height=64, width=64, nuclei=3)
    (image,) = services.image_ingest(
        project=project, uploader=user, uploads=[services.Upload(f"{name}.png", png_bytes(field.brightfield))]
    )
    image = services.image_update(image=image, split=split)
    mask = np.where(field.mask > 0, 2, 1).astype(np.uint8)
    services.annotation_save(
        image=image, author=user, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
    )
    stroke = {"class_index": 2, "radius": 2, "points": [[5, 5], [9, 9]]}
    services.annotation_save(
        image=image, author=user, kind="scribble", base_version=0, data={"strokes": [stroke]}
    )
    nucleus = project.classes.get(name="nucleus")
    services.annotation_save(
        image=image, author=user, kind="tag", label_class=nucleus, base_version=0, data={"present": True}
    )
    return image


@pytest.fixture
def images(project, users) -> dict[str, Image]:
    owner = users["owner"]
    return {
        "train": labelled(project, owner, "a-train", Split.TRAIN),
        "other": labelled(project, owner, "b-train", Split.TRAIN),
        "validation": labelled(project, owner, "c-validation", Split.VALIDATION),
        "inference": labelled(project, owner, "d-inference", Split.INFERENCE),
    }


def test_a_runs_label_snapshot_leaves_the_inference_images_out(project, images):
    frozen = snapshot.label_snapshot(project=project, sources=LABEL_SOURCES, derived=None)
    covered = snapshot.snapshot_images(frozen)
    assert images["inference"].pk not in covered.train + covered.validation
    assert covered.train == [images["train"].pk, images["other"].pk]
    assert covered.validation == [images["validation"].pk]
    prepared = strategy_named("labels").prepare(project=project, options=dict(QUICK), train_image_limit=None)
    assert not {pk for pk, _ in prepared.snapshot} & {a.pk for a in images["inference"].annotations.all()}


def test_an_image_moved_to_inference_after_a_run_was_started_is_not_trained_on(project, images):
    frozen = snapshot.label_snapshot(project=project, sources=["dense"], derived=None)
    services.image_update(image=images["train"], split=Split.INFERENCE)
    prepared = strategy_named("labels").prepare(project=project, options=dict(QUICK), train_image_limit=None)
    spec = prepared.spec
    data = snapshot.load_run_data(frozen, spec)
    assert [image.pk for image in data.train_images] == [images["other"].pk]


def test_tags_and_pretraining_leave_the_inference_images_out(project, images):
    nucleus = project.classes.get(name="nucleus")
    tagged = {pk for pk, _ in frozen_tags(project, nucleus)}
    assert tagged and not tagged & {a.pk for a in images["inference"].annotations.all()}
    pretrain = strategy_named("pretrain").prepare(
        project=project, options=dict(QUICK), train_image_limit=None
    )
    assert pretrain.spec.pretrain is not None
    assert images["inference"].pk not in pretrain.spec.pretrain.images
    assert images["train"].pk in pretrain.spec.pretrain.images


def test_studies_and_guided_labelling_leave_the_inference_images_out(project, images):
    plan = study.study_plan(project=project, options={})
    assert (plan.train_images, plan.validation_images) == (2, 1)
    ranked = [entry.image for entry in guidance.uncertainty_ranking(project=project).images]
    assert sorted(ranked) == sorted([images["train"].pk, images["other"].pk])
