"""Training and scoring on a real Dramatiq worker process, watched over the project's WebSocket."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from labeling import services
from labeling.labelmaps import decode_png_map
from labeling.models import Annotation
from labeling.selectors import label_map_at
from tests.factories import field_png, named
from training.actors import predict_images, train_run
from training.ml.checkpoint import checkpoint_from_bytes
from training.models import ModelVersion, Prediction, PredictionJob, RunMetric, TrainingRun
from webapp.asgi import application

from .conftest import TINY_RUN, add_labelled_images, off_the_loop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def socket_for(client: Any, project_id: int) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application,
        f"/ws/projects/{project_id}/",
        headers=[
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
            (b"origin", b"http://127.0.0.1:8000"),
            (b"host", b"127.0.0.1:8000"),
        ],
    )


async def events_until(socket: WebsocketCommunicator, done: Any, *, timeout: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not events or not done(events):
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no end after {timeout} s; got {[e['type'] for e in events]}")
        events.append(await socket.receive_json_from(timeout=remaining))
    return events


def scored_or_ended(events: list[dict[str, Any]]) -> bool:
    last = events[-1]
    return last["type"] == "predictions.ready" or (
        last["type"] == "run.state" and last["state"] in ("failed", "cancelled")
    )


def test_a_run_trains_on_the_worker_scores_every_image_and_streams_its_curve(
    worker, project, users, client_for
):
    images = add_labelled_images(project, users["owner"], count=3, validation=1)
    manager = client_for("manager")

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        socket = socket_for(manager, project.pk)
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from())["type"] == "hello"
        response = await off_the_loop(
            manager.post, f"/api/projects/{project.pk}/runs/", {"config": TINY_RUN}, format="json"
        )
        assert response.status_code == 201, response.content
        events = await events_until(socket, scored_or_ended, timeout=240)
        await socket.disconnect()
        return response.json(), events

    created, events = asyncio.run(scenario())
    assert created["state"] == "queued" and created["queue_position"] == 1

    run = TrainingRun.objects.get(pk=created["id"])
    assert run.state == "succeeded", run.error
    assert run.started_at and run.finished_at and run.started_at <= run.finished_at
    assert sorted(pk for pk, _ in run.label_snapshot) == sorted(
        image.annotations.get().pk for image in images
    )

    states = [e["state"] for e in events if e["type"] == "run.state"]
    assert states == ["queued", "running", "succeeded"]
    curve = [e for e in events if e["type"] in ("run.progress", "run.validation", "run.preview")]
    assert [e["seq"] for e in curve] == list(range(1, len(curve) + 1)), "events arrive in order, none lost"
    progress = [e for e in curve if e["type"] == "run.progress"]
    assert progress and progress[-1]["step"] == TINY_RUN["steps"]
    assert all(key in progress[0] for key in ("loss", "learning_rate", "samples_per_second", "eta_seconds"))
    validation = [e for e in curve if e["type"] == "run.validation"]
    assert [e["epoch"] for e in validation] == [1, 2, 3]
    assert 0.0 <= validation[-1]["metrics"]["pixel_f1"] <= 1.0
    previews = [e for e in curve if e["type"] == "run.preview"]
    assert len(previews) == 3 * 2
    preview = manager.get(previews[-1]["url"])
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"
    # The whole curve is stored: a page opened late gets the same points from the REST API.
    stored = manager.get(f"/api/runs/{run.pk}/metrics/").json()
    assert [m["seq"] for m in stored] == [e["seq"] for e in curve]
    assert manager.get(f"/api/runs/{run.pk}/metrics/?after=3").json()[0]["seq"] == 4

    version = ModelVersion.objects.get(run=run)
    assert version.metrics["validation"]["pixel_f1"] == max(e["metrics"]["pixel_f1"] for e in validation)
    ((low, high),) = version.config["ranges"]  # fixed on the training images, used for scoring too
    assert 0 <= low < high <= 255
    saved = checkpoint_from_bytes(version.weights.read())
    assert saved.config.in_channels == 1 and saved.config.num_classes == 2

    ready = wait_until(
        lambda: Prediction.objects.filter(model_version=version).count() == len(images),
        timeout=60,
        what="predictions of every image",
        worker=worker,
    )
    assert ready
    for prediction in Prediction.objects.filter(model_version=version):
        assert 0.0 <= prediction.uncertainty <= 1.0
        response = manager.get(f"/api/predictions/{prediction.pk}/mask.png")
        assert response.status_code == 200
        heat = manager.get(f"/api/predictions/{prediction.pk}/uncertainty.png")
        assert heat.status_code == 200 and heat["Content-Type"] == "image/png"
    listed = manager.get(f"/api/projects/{project.pk}/images/").json()["results"]
    assert [row["predicted"] for row in listed] == [True] * len(images)  # the grid's "predicted" badge


def test_a_redelivered_message_does_nothing_twice(worker, project, users, client_for):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    manager = client_for("manager")
    first = manager.post(f"/api/projects/{project.pk}/runs/", {"config": TINY_RUN}, format="json").json()
    version = wait_until(
        lambda: ModelVersion.objects.filter(run_id=first["id"]).first(),
        timeout=180,
        what="a model version",
        worker=worker,
    )
    wait_until(
        lambda: Prediction.objects.filter(model_version=version).exists(), timeout=60, what="predictions"
    )
    predictions = list(Prediction.objects.filter(model_version=version).values_list("pk", "mask"))
    metrics = RunMetric.objects.filter(run_id=first["id"]).count()

    # The broker delivers both messages again (as after a worker lost its connection)...
    train_run.send(first["id"])
    predict_images.send(PredictionJob.objects.get(model_version=version).pk)
    # ...and the worker, taking messages in order, has handled them once a later run is done.
    second = manager.post(f"/api/projects/{project.pk}/runs/", {"config": TINY_RUN}, format="json").json()
    wait_until(
        lambda: TrainingRun.objects.get(pk=second["id"]).is_finished, timeout=180, what="the second run"
    )

    assert ModelVersion.objects.filter(run_id=first["id"]).count() == 1
    assert list(Prediction.objects.filter(model_version=version).values_list("pk", "mask")) == predictions
    assert RunMetric.objects.filter(run_id=first["id"]).count() == metrics
    assert TrainingRun.objects.get(pk=first["id"]).state == "succeeded"


def test_cancel_stops_a_running_run_within_a_step(worker, project, users, client_for):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    manager = client_for("manager")
    long_run = {**TINY_RUN, "steps": 100_000, "steps_per_epoch": 100_000}
    run = manager.post(f"/api/projects/{project.pk}/runs/", {"config": long_run}, format="json").json()
    wait_until(
        lambda: RunMetric.objects.filter(run_id=run["id"], kind="progress").exists(),
        timeout=120,
        what="the run to make progress",
        worker=worker,
    )
    cancelled = manager.post(f"/api/runs/{run['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"] is True
    wait_until(
        lambda: TrainingRun.objects.get(pk=run["id"]).state == "cancelled",
        timeout=15,
        what="the cancel",
        worker=worker,
    )
    finished = TrainingRun.objects.get(pk=run["id"])
    assert finished.finished_at is not None and finished.progress["step"] < long_run["steps"]
    assert not ModelVersion.objects.filter(run=finished).exists()
    assert manager.post(f"/api/runs/{run['id']}/cancel/").status_code == 409


def test_a_killed_worker_leaves_a_failed_run_and_nothing_half_written(
    start_worker, worker, project, users, client_for, settings
):
    settings.RUN_STALE_SECONDS = 4
    add_labelled_images(project, users["owner"], count=1, validation=0)
    manager = client_for("manager")
    # The module's worker is busy with a long run, so this one goes to a worker of its own.
    victim = start_worker()
    blocker = manager.post(
        f"/api/projects/{project.pk}/runs/",
        {"config": {**TINY_RUN, "steps": 100_000, "steps_per_epoch": 100_000}},
        format="json",
    ).json()
    doomed = manager.post(
        f"/api/projects/{project.pk}/runs/", {"config": {**TINY_RUN, "steps": 100_000}}, format="json"
    ).json()
    running = wait_until(
        lambda: (
            TrainingRun.objects.filter(pk__in=[blocker["id"], doomed["id"]], state="running").count() == 2
        ),
        timeout=120,
        what="both runs to be running",
        worker=victim,
    )
    assert running
    victim.kill()
    both = list(TrainingRun.objects.filter(pk__in=[blocker["id"], doomed["id"]]))

    def failed_one() -> Any:
        """Reading a run sweeps: within RUN_STALE_SECONDS (+ a margin) the killed one reads failed."""
        for run in both:
            state = manager.get(f"/api/runs/{run.pk}/").json()
            if state["state"] == "failed":
                return state
        return None

    failed = wait_until(failed_one, timeout=30, what="the killed worker's run to be marked failed")
    assert "stopped responding" in failed["error"]
    assert not ModelVersion.objects.filter(run_id=failed["id"]).exists()
    assert not Prediction.objects.filter(model_version__run_id=failed["id"]).exists()
    assert not any(name.startswith(f"run-{failed['id']}-") for name in _listdir("models"))
    # The other run, on the module's worker, is alive and can still be cancelled.
    survivor = next(run for run in both if run.pk != failed["id"])
    assert manager.get(f"/api/runs/{survivor.pk}/").json()["state"] == "running"
    assert manager.post(f"/api/runs/{survivor.pk}/cancel/").status_code == 200
    wait_until(
        lambda: TrainingRun.objects.get(pk=survivor.pk).is_finished, timeout=30, what="the survivor's cancel"
    )


def _listdir(folder: str) -> list[str]:
    if not default_storage.exists(folder):
        return []
    return default_storage.listdir(folder)[1]


def test_a_large_image_is_rendered_by_the_worker(worker, project, client_for, settings):
    settings.DISPLAY_SYNC_MAX_PIXELS = 64 * 64 - 1  # "large" from 64 x 64 on
    manager = client_for("manager")
    uploaded = manager.post(
        f"/api/projects/{project.pk}/images/", {"files": [named(field_png(size=64), "big.png")]}
    )
    assert uploaded.status_code == 201, uploaded.content
    (image,) = uploaded.json()
    assert image["renditions_ready"] is False
    assert manager.get(image["thumbnail_url"]).status_code == 404
    wait_until(
        lambda: manager.get(f"/api/images/{image['id']}/").json()["renditions_ready"],
        timeout=60,
        what="the worker to render the image",
        worker=worker,
    )
    thumbnail = manager.get(image["thumbnail_url"])
    display = manager.get(image["channels"][0]["display_url"])
    assert thumbnail.status_code == 200 and display.status_code == 200
    assert PILImage.open(io.BytesIO(b"".join(display.streaming_content))).size == (64, 64)


def test_confident_predictions_become_pseudo_masks_and_painted_ones_are_kept(
    worker, project, users, client_for
):
    images = add_labelled_images(project, users["owner"], count=2, validation=0)
    manager = client_for("manager")
    run = manager.post(f"/api/projects/{project.pk}/runs/", {"config": TINY_RUN}, format="json").json()
    version = wait_until(
        lambda: ModelVersion.objects.filter(run_id=run["id"]).first(),
        timeout=180,
        what="a model",
        worker=worker,
    )
    wait_until(lambda: version.predictions.count() == 2, timeout=60, what="predictions", worker=worker)
    # A person has already corrected the first image's model-derived layer: it must survive.
    painted = services.annotation_save(
        image=images[0],
        author=users["annotator"],
        kind="derived",
        base_version=0,
        data={
            "strokes": [{"class_index": 1, "radius": 3, "points": [[5, 5]]}],
            "provenance": {"source": "model"},
        },
    )
    url = f"/api/model-versions/{version.pk}/pseudo-masks/"
    assert client_for("stranger").post(url, {"max_uncertainty": 0.5}, format="json").status_code == 404
    assert client_for("annotator").post(url, {"max_uncertainty": 0.5}, format="json").status_code == 403
    assert manager.post(url, {"max_uncertainty": 2}, format="json").status_code == 400
    assert manager.post(url, {"max_uncertainty": 1.0}, format="json").status_code == 202

    derived = wait_until(
        lambda: Annotation.objects.filter(image=images[1], kind="derived").first(),
        timeout=60,
        what="the pseudo-mask",
        worker=worker,
    )
    prediction = version.predictions.get(image=images[1])
    predicted = decode_png_map(prediction.mask.read(), what="prediction")
    assert np.array_equal(label_map_at(derived), predicted), "threshold 1.0 keeps every pixel"
    revision = derived.revisions.get()
    assert revision.data["provenance"] == {
        "source": "model",
        "model_version": version.pk,
        "max_uncertainty": 1.0,
    }
    painted.refresh_from_db()
    assert painted.version == 1 and painted.updated_by == users["annotator"]
