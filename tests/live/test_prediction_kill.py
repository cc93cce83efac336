"""A worker killed in the middle of a prediction job: every prediction stored is whole, and the
job's message, delivered again, finishes the job with exactly one prediction per image.

In a module of its own so that the victim is the only worker consuming the queue.
"""

from __future__ import annotations

import json

import pytest

from labeling.labelmaps import decode_png_map
from tests.versions import random_version
from training.actors import predict_images
from training.models import Prediction, PredictionJob
from training.predict.pipeline import decode_instances

from .conftest import wait_until
from .test_prediction_jobs import add_fields

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_job_leaves_whole_predictions_and_the_redelivered_message_finishes_it(
    start_worker, project, users, client_for
):
    total = 24
    images = add_fields(project, users["owner"], total, size=256)
    version = random_version(project, users["owner"])
    manager = client_for("manager")
    victim = start_worker()
    job = manager.post(f"/api/model-versions/{version.pk}/predict/", {"scope": "all"}, format="json").json()
    predictions = Prediction.objects.filter(model_version=version)
    wait_until(lambda: predictions.exists(), timeout=120, what="the first prediction", worker=victim)
    victim.kill()

    before = dict(predictions.values_list("image_id", "pk"))
    assert 0 < len(before) < total, f"the kill should land mid-job; {len(before)} of {total} done"
    assert manager.get(f"/api/prediction-jobs/{job['id']}/").json()["state"] == "running"
    for prediction in predictions:  # whatever has a row has every file, whole
        assert decode_png_map(prediction.mask.read(), what="mask").shape == (256, 256)
        assert decode_png_map(prediction.uncertainty_map.read(), what="uncertainty").shape == (256, 256)
        assert decode_instances(prediction.instances.read()).shape == (256, 256)
        assert len(json.loads(prediction.measurements.read())["rows"]) == sum(prediction.counts.values())

    survivor = start_worker()
    # What the broker does with the unacknowledged message of a worker that is gone.
    predict_images.send(job["id"])
    wait_until(
        lambda: PredictionJob.objects.get(pk=job["id"]).state == "succeeded",
        timeout=240,
        what="the redelivered job to finish",
        worker=survivor,
    )
    assert sorted(predictions.values_list("image_id", flat=True)) == sorted(image.pk for image in images)
    kept = dict(predictions.filter(image_id__in=before).values_list("image_id", "pk"))
    assert kept == before  # those stored before the kill are the ones kept
    finished = PredictionJob.objects.get(pk=job["id"])
    assert finished.done == finished.total == total and finished.skipped == []
