"""The "forest" strategy on a real worker: a random forest fitted on scribbles and dense masks is
stored as a model version of its own kind, scored on the validation images like a network,
predicts in prediction jobs, ranks images for guidance, retrains from scratch, and is refused by
model export and as a network's warm start."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labeling import selectors, services
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from training.features.guidance import uncertainty_ranking
from training.ml.forest_model import forest_from_bytes
from training.models import ModelVersion, Prediction, PredictionJob, RunMetric, TrainingRun

from .conftest import TINY_RUN, add_labelled_images, wait_until

FOREST = {"strategy": "forest", "n_estimators": 10, "max_depth": 8, "preview_images": 1}


def finished(run_id: int) -> TrainingRun | None:
    run = TrainingRun.objects.get(pk=run_id)
    return run if run.is_finished else None


def add_scribbled_image(project: Any, user: Any) -> Any:
    """A field with one stroke of each class only (no dense mask)."""
    field = synthetic_field(seed=7, height=64, width=64, nuclei=4, radius=(5, 9))
    (image,) = services.image_ingest(
        project=project,
        uploader=user,
        uploads=[services.Upload("scribbled.png", png_bytes(field.brightfield))],
    )
    rows, cols = np.nonzero(field.mask)
    inside = [int(cols[0]), int(rows[0])]
    strokes = [
        {"class_index": 1, "radius": 2, "points": [[2, 2], [60, 2]]},
        {"class_index": 2, "radius": 1, "points": [inside, inside]},
    ]
    services.annotation_save(
        image=image, author=user, kind="scribble", base_version=0, data={"strokes": strokes}
    )
    return image


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_forest_run_makes_a_version_that_scores_predicts_and_ranks_but_does_not_export(
    worker, project, users, client_for
):
    images = add_labelled_images(project, users["owner"], count=2, validation=1)
    scribbled = add_scribbled_image(project, users["owner"])
    manager = client_for("manager")

    response = manager.post(f"/api/projects/{project.pk}/runs/", {"config": FOREST}, format="json")
    assert response.status_code == 201, response.content
    run = wait_until(
        lambda: finished(response.json()["id"]), timeout=180, what="the forest run", worker=worker
    )
    assert run.state == "succeeded", run.error
    version = ModelVersion.objects.get(run=run)
    assert version.kind == "forest" and version.weights.name.endswith(".joblib")
    forest = forest_from_bytes(selectors.read_file(version.weights))
    assert forest.num_classes == 2 and forest.forest.n_estimators == 10
    # Trained on the scribbled image and the two masked ones; scored on the validation mask.
    assert sorted(version.metrics["train_images"]) == sorted([images[0].pk, images[1].pk, scribbled.pk])
    assert version.metrics["validation_images"] == [images[2].pk]
    assert version.metrics["validation"]["pixel_f1"] > 0.8, version.metrics
    assert {"iou", "f1_class_0", "f1_class_1"} <= set(version.metrics["validation"])
    assert RunMetric.objects.filter(run=run, kind="validation").count() == 1
    assert RunMetric.objects.filter(run=run, kind="preview").count() == 1

    # Scored after training like a network: every image, with an uncertainty from its probabilities.
    everything = wait_until(
        lambda: Prediction.objects.filter(model_version=version).count() == 4 or None,
        timeout=120,
        what="the forest's scoring",
        worker=worker,
    )
    assert everything
    uncertainties = list(
        Prediction.objects.filter(model_version=version).values_list("uncertainty", flat=True)
    )
    assert all(0.0 <= value < 0.5 for value in uncertainties), uncertainties
    assert uncertainty_ranking(project=project).model_version == version

    # A prediction job on a new image.
    (new,) = services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[
            services.Upload("new.png", png_bytes(synthetic_field(seed=11, height=64, width=64).brightfield))
        ],
    )
    asked = manager.post(
        f"/api/model-versions/{version.pk}/predict/", {"scope": "images", "images": [new.pk]}, format="json"
    )
    assert asked.status_code == 201, asked.content
    job = wait_until(
        lambda: PredictionJob.objects.filter(pk=asked.json()["id"], state="succeeded").first(),
        timeout=120,
        what="the prediction job",
        worker=worker,
    )
    assert job.done == 1 and Prediction.objects.filter(model_version=version, image=new).exists()

    # Model export is for networks: a clear 400.
    refused = manager.get(f"/api/model-versions/{version.pk}/export/?as=onnx")
    assert refused.status_code == 400 and "random forest" in str(refused.json())
    # A network cannot start from a forest; a forest retrains from scratch on the labels now.
    warm = manager.post(
        f"/api/projects/{project.pk}/runs/", {"config": TINY_RUN, "warm_start": version.pk}, format="json"
    )
    assert warm.status_code == 400 and "random forest" in str(warm.json())
    again = manager.post(f"/api/model-versions/{version.pk}/retrain/")
    assert again.status_code == 201, again.content
    retrained = TrainingRun.objects.get(pk=again.json()["id"])
    assert retrained.warm_start is None and retrained.config == run.config
    done = wait_until(lambda: finished(retrained.pk), timeout=180, what="the retrained forest", worker=worker)
    assert done.state == "succeeded", done.error
