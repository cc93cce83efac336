"""Prediction jobs on a real worker, watched over the project's socket: progress, the predictions
as they are stored, the end; a message delivered again and a second job predict nothing twice; a
cancel stops a running job between images."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from labeling import services
from labeling.models import Image, Project
from tests.factories import png_bytes
from tests.versions import random_version
from training.actors import predict_images
from training.models import Prediction, PredictionJob

from .conftest import off_the_loop, wait_until
from .test_workers import events_until, socket_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def add_fields(project: Project, user: Any, count: int, *, size: int = 64) -> list[Image]:
    """Fields of a few bright discs each, named f00, f01, ..."""
    rng = np.random.default_rng(0)
    images = []
    yy, xx = np.mgrid[:size, :size]
    for n in range(count):
        field = np.zeros((size, size), np.uint8)
        for cy, cx in rng.integers(8, size - 8, size=(4, 2)):
            field[(yy - cy) ** 2 + (xx - cx) ** 2 <= 25] = 220
        (image,) = services.image_ingest(
            project=project, uploader=user, uploads=[services.Upload(f"f{n:02d}.png", png_bytes(field))]
        )
        images.append(image)
    return images


def job_state(job_id: int) -> str:
    return PredictionJob.objects.get(pk=job_id).state


def test_a_job_streams_progress_and_predictions_and_a_rerun_predicts_nothing_twice(
    worker, project, users, client_for
):
    images = add_fields(project, users["owner"], 4)
    version = random_version(project, users["owner"])
    manager = client_for("manager")

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        socket = socket_for(manager, project.pk)
        connected, _ = await socket.connect()
        assert connected and (await socket.receive_json_from())["type"] == "hello"
        response = await off_the_loop(
            manager.post, f"/api/model-versions/{version.pk}/predict/", {"scope": "all"}, format="json"
        )
        assert response.status_code == 201, response.content
        events = await events_until(socket, lambda seen: seen[-1]["type"] == "prediction.done", timeout=240)
        await socket.disconnect()
        return response.json(), events

    job, events = asyncio.run(scenario())
    progress = [e for e in events if e["type"] == "prediction.progress"]
    assert progress[0]["state"] == "queued" and progress[-1]["state"] == "running"
    assert [e["done"] for e in progress] == sorted(e["done"] for e in progress)
    assert progress[-1]["done"] == progress[-1]["total"] == 4
    ready = [p for e in events if e["type"] == "predictions.ready" for p in e["predictions"]]
    assert sorted(p["image"] for p in ready) == sorted(image.pk for image in images)
    assert all(set(p["counts"]) == {"2"} for p in ready)  # "nucleus" is countable
    (done,) = [e for e in events if e["type"] == "prediction.done"]
    assert done["job"] == job["id"] and done["state"] == "succeeded" and done["skipped"] == []
    assert manager.get(f"/api/prediction-jobs/{job['id']}/").json()["state"] == "succeeded"
    stored = list(Prediction.objects.filter(model_version=version).order_by("pk").values_list("pk", "mask"))
    assert len(stored) == 4

    predict_images.send(job["id"])  # the broker delivers the message again...
    again = manager.post(f"/api/model-versions/{version.pk}/predict/", {"scope": "all"}, format="json").json()
    wait_until(
        lambda: job_state(again["id"]) == "succeeded", timeout=120, what="the second job", worker=worker
    )
    assert (
        list(Prediction.objects.filter(model_version=version).order_by("pk").values_list("pk", "mask"))
        == stored
    )
    assert PredictionJob.objects.get(pk=again["id"]).done == 4


def test_cancel_stops_a_running_job_between_images(worker, project, users, client_for):
    add_fields(project, users["owner"], 30, size=128)
    version = random_version(project, users["owner"])
    manager = client_for("manager")
    job = manager.post(f"/api/model-versions/{version.pk}/predict/", {"scope": "all"}, format="json").json()
    wait_until(
        lambda: Prediction.objects.filter(model_version=version).exists(),
        timeout=120,
        what="the first prediction",
        worker=worker,
    )
    cancelled = manager.post(f"/api/prediction-jobs/{job['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"] is True
    wait_until(lambda: job_state(job["id"]) == "cancelled", timeout=30, what="the cancel", worker=worker)
    stopped = PredictionJob.objects.get(pk=job["id"])
    predicted = Prediction.objects.filter(model_version=version).count()
    assert stopped.finished_at is not None and predicted == stopped.done < 30
    assert manager.post(f"/api/prediction-jobs/{job['id']}/cancel/").status_code == 409
