"""Prediction jobs in this process: asking for one through the API, running the actor's body,
skipping what is done, cancelling, and who may do what."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labeling import services
from tests.factories import tiff_bytes
from training import scoring
from training.actors import predict_images
from training.models import Prediction, PredictionJob

from .conftest import add_images, threshold_prediction

pytestmark = pytest.mark.django_db


def ask(client: Any, version_id: int, **selection: Any) -> Any:
    return client.post(f"/api/model-versions/{version_id}/predict/", selection, format="json")


def test_a_manager_predicts_listed_images_and_the_job_ends_with_one_prediction_each(
    project, users, client_for, version
):
    a, _, c = add_images(project, users["owner"], [1, 2, 3])
    asked = ask(client_for("manager"), version.pk, scope="images", images=[c.pk, a.pk])
    assert asked.status_code == 201, asked.content
    job = asked.json()
    assert job["state"] == "queued" and job["total"] == 2 and job["done"] == 0
    assert job["selection"] == {"scope": "images", "images": [c.pk, a.pk]}
    assert PredictionJob.objects.get(pk=job["id"]).image_ids == [a.pk, c.pk]  # by name

    predict_images.fn(job["id"])

    finished = client_for("viewer").get(f"/api/prediction-jobs/{job['id']}/").json()
    assert finished["state"] == "succeeded" and finished["done"] == 2 and finished["skipped"] == []
    assert finished["started_at"] and finished["finished_at"]
    predictions = Prediction.objects.filter(model_version=version)
    assert sorted(predictions.values_list("image_id", flat=True)) == [a.pk, c.pk]
    for prediction in predictions:
        assert prediction.mask and prediction.uncertainty_map and prediction.measurements
        assert prediction.instances  # "nucleus" is countable in the project fixture
        assert set(prediction.counts) == {"2"}


def test_a_second_job_skips_what_the_version_has_predicted_and_a_rerun_does_nothing(
    project, users, client_for, version
):
    first, _ = add_images(project, users["owner"], [1, 2])
    manager = client_for("manager")
    one = ask(manager, version.pk, scope="images", images=[first.pk]).json()
    predict_images.fn(one["id"])
    before = list(Prediction.objects.values_list("pk", "mask"))

    predict_images.fn(one["id"])  # the same message again: the job is over
    assert list(Prediction.objects.values_list("pk", "mask")) == before

    every = ask(manager, version.pk, scope="all").json()
    assert every["total"] == 2
    predict_images.fn(every["id"])
    assert Prediction.objects.filter(model_version=version).count() == 2
    assert Prediction.objects.get(image=first).pk == before[0][0]  # not predicted again
    assert PredictionJob.objects.get(pk=every["id"]).done == 2


def test_not_predicted_a_split_and_the_inference_set_select_their_images(project, users, client_for, version):
    train, other = add_images(project, users["owner"], [1, 1], split="train")
    (inference,) = add_images(project, users["owner"], [1], split="inference", prefix="z-next-week-")
    Prediction.objects.create(model_version=version, image=train, mask="predictions/x.png")
    manager = client_for("manager")

    def frozen(**selection: Any) -> list[int]:
        response = ask(manager, version.pk, **selection)
        assert response.status_code == 201, response.content
        return PredictionJob.objects.get(pk=response.json()["id"]).image_ids

    assert frozen(scope="not_predicted") == [other.pk, inference.pk]
    assert frozen(scope="split", split="train") == [train.pk, other.pk]
    assert frozen(scope="inference") == [inference.pk]


def test_a_selection_is_refused_with_what_to_change(project, users, client_for, version, settings):
    (image,) = add_images(project, users["owner"], [1])
    manager = client_for("manager")
    assert ask(manager, version.pk, scope="images").status_code == 400  # which images?
    assert ask(manager, version.pk, scope="split").status_code == 400
    assert ask(manager, version.pk, scope="everything").status_code == 400
    foreign = ask(manager, version.pk, scope="images", images=[image.pk, 999_999])
    assert foreign.status_code == 400 and "999999" in foreign.json()["detail"]
    empty = ask(manager, version.pk, scope="inference")
    assert empty.status_code == 400 and "nothing to predict" in empty.json()["detail"]
    settings.PREDICTION_MAX_IMAGES = 0
    too_many = ask(manager, version.pk, scope="all")
    assert too_many.status_code == 400 and "PREDICTION_MAX_IMAGES" in too_many.json()["detail"]


def test_a_project_may_have_only_so_many_jobs_at_once(project, users, client_for, version, settings):
    settings.PREDICTION_MAX_ACTIVE_JOBS = 1
    add_images(project, users["owner"], [1])
    manager = client_for("manager")
    first = ask(manager, version.pk, scope="all").json()
    busy = ask(manager, version.pk, scope="all")
    assert busy.status_code == 409 and "wait for one to finish" in busy.json()["detail"]
    manager.post(f"/api/prediction-jobs/{first['id']}/cancel/")
    assert ask(manager, version.pk, scope="all").status_code == 201


def test_cancelling_a_queued_job_ends_it_at_once_and_its_message_then_does_nothing(
    project, users, client_for, version
):
    add_images(project, users["owner"], [1])
    manager = client_for("manager")
    job = ask(manager, version.pk, scope="all").json()
    cancelled = manager.post(f"/api/prediction-jobs/{job['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    predict_images.fn(job["id"])
    assert not Prediction.objects.exists()
    assert manager.post(f"/api/prediction-jobs/{job['id']}/cancel/").status_code == 409


def test_a_running_job_stops_between_images_when_cancelled(project, users, client_for, version, monkeypatch):
    add_images(project, users["owner"], [1, 1, 1])
    manager = client_for("manager")
    job = ask(manager, version.pk, scope="all").json()
    predict_one = scoring.predict_image

    def predict_then_cancel(*args: Any, **kwargs: Any) -> Prediction:
        made = predict_one(*args, **kwargs)
        assert manager.post(f"/api/prediction-jobs/{job['id']}/cancel/").json()["cancel_requested"]
        return made

    monkeypatch.setattr(scoring, "predict_image", predict_then_cancel)
    predict_images.fn(job["id"])

    stopped = PredictionJob.objects.get(pk=job["id"])
    assert stopped.state == "cancelled" and stopped.done == 1
    assert Prediction.objects.count() == 1


def test_an_image_without_the_versions_channel_is_skipped_with_why(project, users, client_for, version):
    (good,) = add_images(project, users["owner"], [1])
    (odd,) = services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[
            services.Upload("odd.tif", tiff_bytes(np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint8)))
        ],
        channel_names=["dapi", "actin"],
        pages="channels",
    )
    job = ask(client_for("manager"), version.pk, scope="all").json()
    predict_images.fn(job["id"])
    finished = PredictionJob.objects.get(pk=job["id"])
    assert finished.state == "succeeded" and finished.done == 2
    ((skipped),) = finished.skipped
    assert skipped["image"] == odd.pk and "has no gray" in skipped["reason"]
    assert list(Prediction.objects.values_list("image_id", flat=True)) == [good.pk]


def test_viewers_read_jobs_managers_start_and_cancel_them_strangers_see_nothing(
    project, users, client_for, version
):
    add_images(project, users["owner"], [1])
    job = ask(client_for("manager"), version.pk, scope="all").json()
    viewer, annotator, stranger = client_for("viewer"), client_for("annotator"), client_for("stranger")
    assert viewer.get(f"/api/prediction-jobs/{job['id']}/").status_code == 200
    listed = viewer.get(f"/api/projects/{project.pk}/prediction-jobs/").json()["results"]
    assert [row["id"] for row in listed] == [job["id"]]
    assert ask(viewer, version.pk, scope="all").status_code == 403
    assert ask(annotator, version.pk, scope="all").status_code == 403
    assert viewer.post(f"/api/prediction-jobs/{job['id']}/cancel/").status_code == 403
    assert ask(stranger, version.pk, scope="all").status_code == 404
    assert stranger.get(f"/api/prediction-jobs/{job['id']}/").status_code == 404
    assert stranger.post(f"/api/prediction-jobs/{job['id']}/cancel/").status_code == 404
    assert stranger.get(f"/api/projects/{project.pk}/prediction-jobs/").status_code == 404


def test_a_version_that_does_not_predict_is_refused(project, users, client_for, version):
    add_images(project, users["owner"], [1])
    version.kind = "encoder"
    version.save()
    refused = ask(client_for("manager"), version.pk, scope="all")
    assert refused.status_code == 400 and "does not predict" in refused.json()["detail"]


def test_the_image_list_and_the_predictions_list_show_the_newest_counts(project, users, client_for, version):
    (image,) = add_images(project, users["owner"], [3])
    viewer = client_for("viewer")
    assert viewer.get(f"/api/projects/{project.pk}/images/").json()["results"][0]["object_counts"] is None
    job = ask(client_for("manager"), version.pk, scope="all").json()
    predict_images.fn(job["id"])
    prediction = Prediction.objects.get(image=image)
    (row,) = viewer.get(f"/api/projects/{project.pk}/images/").json()["results"]
    assert row["object_counts"] == {"model_version": version.pk, "counts": prediction.counts}
    assert viewer.get(f"/api/images/{image.pk}/").json()["object_counts"]["model_version"] == version.pk
    (listed,) = viewer.get(f"/api/projects/{project.pk}/predictions/").json()["results"]
    assert listed["counts"] == prediction.counts
    assert listed["measurements_url"] == f"/api/predictions/{prediction.pk}/measurements/"


def _delivered(retries: int) -> Any:
    """predict_images' message as the worker hands it over after `retries` earlier failures."""
    from dramatiq import Message, get_broker
    from dramatiq.middleware import CurrentMessage

    message = Message(
        queue_name="gpu", actor_name="predict_images", args=(), kwargs={}, options={"retries": retries}
    )
    CurrentMessage().before_process_message(get_broker(), message)
    return message


def test_a_failed_attempt_waits_queued_for_its_retry_and_the_last_one_fails_the_job(
    project, users, client_for, version, monkeypatch
):
    from dramatiq import get_broker
    from dramatiq.middleware import CurrentMessage

    class StorageAway:
        def save(self, *args: Any, **kwargs: Any) -> str:
            raise OSError("the storage is unreachable")

    add_images(project, users["owner"], [1, 2])
    job = ask(client_for("manager"), version.pk, scope="all").json()
    storage = scoring.default_storage
    monkeypatch.setattr(scoring, "default_storage", StorageAway())
    message = _delivered(retries=0)
    try:
        with pytest.raises(OSError):
            predict_images.fn(job["id"])
        waiting = client_for("viewer").get(f"/api/prediction-jobs/{job['id']}/").json()
        assert waiting["state"] == "queued" and not waiting["finished_at"]
        assert "storage is unreachable" in waiting["error"] and "tried again" in waiting["error"]

        _delivered(retries=3)  # predict_images allows 3 retries: this was the last
        with pytest.raises(OSError):
            predict_images.fn(job["id"])
        failed = PredictionJob.objects.get(pk=job["id"])
        assert failed.state == "failed" and failed.finished_at and "tried again" not in failed.error

        monkeypatch.setattr(scoring, "default_storage", storage)  # the storage is back: a later message
        predict_images.fn(job["id"])
    finally:
        CurrentMessage().after_process_message(get_broker(), message)
    done = PredictionJob.objects.get(pk=job["id"])
    assert done.state == "succeeded" and done.error == "" and done.done == 2
    assert Prediction.objects.filter(model_version=version).count() == 2


def test_a_storage_that_fails_half_way_leaves_no_file_of_the_prediction(project, users, version, monkeypatch):
    (image,) = add_images(project, users["owner"], [2])
    storage = scoring.default_storage
    saved: list[str] = []

    class FailsOnTheSecondFile:
        def save(self, name: str, content: Any) -> str:
            if saved:
                raise OSError("the storage went away")
            saved.append(storage.save(name, content))
            return saved[-1]

        def delete(self, name: str) -> None:
            storage.delete(name)

    monkeypatch.setattr(scoring, "default_storage", FailsOnTheSecondFile())
    with pytest.raises(OSError):
        threshold_prediction(version, image)
    assert saved and not storage.exists(saved[0])
    assert not Prediction.objects.exists()
