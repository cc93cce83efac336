"""Correct-and-retrain on a real worker: train, score, paint a correction, retrain from the version."""

from __future__ import annotations

import pytest

from tests.factories import field_png, named
from training.models import ModelVersion, Prediction, TrainingRun

from .conftest import TINY_RUN, add_labelled_images, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUICK = {**TINY_RUN, "steps": 10, "steps_per_epoch": 5, "warmup_steps": 2, "preview_images": 1}


def finished_version(run_id: int, worker) -> ModelVersion:
    run = wait_until(
        lambda: TrainingRun.objects.filter(pk=run_id).exclude(state__in=["queued", "running"]).first(),
        timeout=240,
        what=f"run {run_id} to finish",
        worker=worker,
    )
    assert run.state == "succeeded", run.error
    return ModelVersion.objects.get(run=run)


def test_a_correction_painted_over_a_prediction_is_in_the_run_retrained_from_it(
    worker, project, users, client_for
):
    images = add_labelled_images(project, users["owner"], count=2, validation=1)
    manager, annotator = client_for("manager"), client_for("annotator")
    upload = manager.post(
        f"/api/projects/{project.pk}/images/", {"files": [named(field_png(seed=7), "fresh.png")]}
    )
    assert upload.status_code == 201, upload.content
    fresh = upload.json()[0]["id"]
    first = manager.post(f"/api/projects/{project.pk}/runs/", {"config": QUICK}, format="json")
    assert first.status_code == 201, first.content
    version = finished_version(first.json()["id"], worker)
    wait_until(
        lambda: Prediction.objects.filter(model_version=version).count() == len(images) + 1,
        timeout=120,
        what="predictions of every image",
        worker=worker,
    )

    # The ranking reads the worker's uncertainties; the one unlabelled image needs labels first.
    ranking = annotator.get(f"/api/projects/{project.pk}/uncertainty-ranking/").json()
    stored = dict(Prediction.objects.filter(model_version=version).values_list("image_id", "uncertainty"))
    assert ranking[0]["image"] == fresh and ranking[0]["has_labels"] is False
    assert {row["image"]: row["uncertainty"] for row in ranking} == {
        pk: value
        for pk, value in stored.items()
        if pk != images[-1].pk  # not the validation image
    }
    suggestion = annotator.get(f"/api/projects/{project.pk}/next-image/").json()
    assert suggestion["image"]["id"] == fresh and suggestion["model_version"] == version.pk

    # The annotator corrects the prediction on it with a stroke...
    stroke = {"class_index": 2, "radius": 4, "points": [[20, 20], [40, 24]]}
    saved = annotator.post(
        f"/api/images/{fresh}/annotations/",
        {"kind": "scribble", "base_version": 0, "data": {"strokes": [stroke]}},
        format="json",
    )
    assert saved.status_code == 201, saved.content
    correction = [saved.json()["id"], saved.json()["version"]]

    # ...and one request retrains from the version.
    response = manager.post(f"/api/model-versions/{version.pk}/retrain/")
    assert response.status_code == 201, response.content
    retrained = TrainingRun.objects.get(pk=response.json()["id"])
    assert retrained.warm_start_id == version.pk
    assert correction in retrained.label_snapshot
    assert correction not in version.run.label_snapshot
    assert retrained.config == version.run.config

    child = finished_version(retrained.pk, worker)
    assert child.parent_id == version.pk and child.kind == "segmentation"
    assert fresh in child.metrics["train_images"]
    wait_until(
        lambda: Prediction.objects.filter(model_version=child).count() == len(images) + 1,
        timeout=120,
        what="the new version's predictions",
        worker=worker,
    )
    after = annotator.get(f"/api/projects/{project.pk}/next-image/").json()
    assert after["model_version"] == child.pk
