"""The label-efficiency study: its sizes and state rules, the API (validation, roles, cancel)
without a worker, then whole studies on a real worker watched over a real WebSocket."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Annotation, Split
from tests.factories import field_png
from training.features.study import Point, last_gain, study_sizes
from training.models import ModelVersion, RunState, Study, TrainingRun, study_state
from training.runs import create, lifecycle
from training.scoring import images_to_score

from .conftest import TINY_RUN, add_labelled_images, off_the_loop, wait_until
from .test_workers import events_until, socket_for

# Each point trains for a few seconds: one epoch of 10 steps on 64x64 patches, no previews.
QUICK = {**TINY_RUN, "batch_size": 2, "steps": 10, "steps_per_epoch": 10, "preview_images": 0}


def start(client: Any, project: Any, config: Any = None) -> Any:
    body = {"config": QUICK if config is None else config}
    return client.post(f"/api/projects/{project.pk}/studies/", body, format="json")


# Pure rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "sizes"),
    [(1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (4, [1, 2, 4]), (5, [1, 2, 4, 5]), (9, [1, 2, 4, 8, 9])],
)
def test_sizes_double_up_to_every_labelled_image(total, sizes):
    assert study_sizes(total) == sizes


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["queued", "queued"], "queued"),
        (["running", "queued"], "running"),
        (["succeeded", "queued"], "running"),
        (["succeeded", "succeeded"], "succeeded"),
        (["succeeded", "failed"], "failed"),
        (["succeeded", "cancelled", "failed"], "cancelled"),
    ],
)
def test_a_study_takes_the_state_its_runs_add_up_to(states, expected):
    assert study_state(states) == expected


def test_the_gain_is_from_the_scored_size_below_the_largest_scored_one():
    def point(size: int, f1: float | None) -> Point:
        return Point(size=size, run=size, state="x", model_version=None, pixel_f1=f1, train_images=None)

    assert last_gain([point(1, 0.5), point(2, None)]) is None
    gain = last_gain([point(4, 0.8), point(1, 0.5), point(2, 0.7), point(8, None)])
    assert (gain.smaller, gain.larger, gain.pixel_f1) == (2, 4, pytest.approx(0.1))


# The API, without a worker -------------------------------------------------------------------


@pytest.fixture
def five_labelled(project, users):
    """5 training images with dense masks, named so that name order is the reverse of upload
    order, 1 validation image, and 1 image nobody labelled (it does not count)."""
    images = add_labelled_images(project, users["owner"], count=5, validation=1)
    for position, image in enumerate(images[:5]):
        services.image_update(image=image, name=f"field-{9 - position}")
    services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("unlabelled.png", field_png(7))]
    )
    return sorted(images[:5], key=lambda image: image.name), images[5]


def snapshot_images(run: TrainingRun) -> set[int]:
    pks = [pk for pk, _ in run.label_snapshot]
    return set(Annotation.objects.filter(pk__in=pks).values_list("image_id", flat=True))


@pytest.mark.django_db
def test_a_study_queues_one_run_per_size_each_on_its_first_labelled_images(
    project, five_labelled, client_for
):
    train, validation = five_labelled
    manager = client_for("manager")
    plan = client_for("viewer").get(f"/api/projects/{project.pk}/studies/plan/")
    assert plan.json() == {"sizes": [1, 2, 4, 5], "train_images": 5, "validation_images": 1}

    response = start(manager, project)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sizes"] == [1, 2, 4, 5] and body["state"] == "queued" and body["gain"] is None
    assert [(p["size"], p["state"], p["pixel_f1"]) for p in body["points"]] == [
        (1, "queued", None),
        (2, "queued", None),
        (4, "queued", None),
        (5, "queued", None),
    ]
    point_runs = [TrainingRun.objects.get(pk=p["run"]) for p in body["points"]]
    assert [run.pk for run in point_runs] == sorted(run.pk for run in point_runs), "smallest first"
    for size, run in zip([1, 2, 4, 5], point_runs, strict=True):
        # The first `size` training images by name, and the validation image to score it on.
        assert snapshot_images(run) == {image.pk for image in train[:size]} | {validation.pk}
        assert run.config == point_runs[-1].config, "every point trains the same way"
    assert Study.objects.get().config == QUICK

    listed = client_for("viewer").get(f"/api/projects/{project.pk}/studies/").json()["results"]
    assert [s["id"] for s in listed] == [body["id"]]
    assert client_for("viewer").get(f"/api/studies/{body['id']}/").json()["points"] == body["points"]


@pytest.mark.django_db
def test_a_study_without_a_dense_mask_on_a_validation_image_is_refused(project, five_labelled, client_for):
    _, validation = five_labelled
    services.image_update(image=validation, split=Split.TRAIN)
    response = start(client_for("manager"), project)
    assert response.status_code == 400 and "none has a dense mask" in str(response.json()), response.json()
    assert not Study.objects.exists() and not TrainingRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({**QUICK, "architecture": "transformer"}, "architecture"),
        ({**QUICK, "steps": 10**9}, "steps <="),
        ({**QUICK, "train_image_limit": 2}, "train_image_limit"),
        ({**QUICK, "strategy": "tags"}, "strategy"),
        ({**QUICK, "label_sources": ["tags"]}, "label_sources"),
        # The validation image is scored by its dense mask whatever the sources; the training
        # images have no scribbles to learn from.
        ({**QUICK, "label_sources": ["scribble"]}, "0 with scribble labels"),
        ("not an object", "config"),
    ],
)
def test_a_bad_study_is_a_400_and_creates_nothing(project, five_labelled, client_for, config, message):
    response = start(client_for("manager"), project, config)
    assert response.status_code == 400 and message in str(response.json()), response.json()
    assert not Study.objects.exists() and not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_study_needs_a_validation_mask_and_two_labelled_images(project, users, client_for):
    manager = client_for("manager")
    add_labelled_images(project, users["owner"], count=2, validation=0)
    response = start(manager, project)
    assert response.status_code == 400 and "validation" in response.json()["detail"]
    plan = manager.get(f"/api/projects/{project.pk}/studies/plan/")
    assert plan.status_code == 400 and plan.json() == response.json()
    assert not Study.objects.exists() and not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_one_labelled_training_image_is_not_a_study(project, users, client_for):
    add_labelled_images(project, users["owner"], count=1, validation=1)
    response = start(client_for("manager"), project)
    assert response.status_code == 400 and "at least 2 labelled training images" in response.json()["detail"]
    assert not Study.objects.exists() and not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_run_limit_out_of_range_is_a_400(project, five_labelled, client_for):
    config = {**QUICK, "train_image_limit": 0}
    response = client_for("manager").post(
        f"/api/projects/{project.pk}/runs/", {"config": config}, format="json"
    )
    assert response.status_code == 400 and "train_image_limit" in response.json()["detail"]
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_only_managers_start_and_cancel_studies_and_strangers_see_none(project, five_labelled, client_for):
    assert start(client_for("annotator"), project).status_code == 403
    assert start(client_for("viewer"), project).status_code == 403
    assert start(client_for("stranger"), project).status_code == 404
    assert client_for("stranger").get(f"/api/projects/{project.pk}/studies/plan/").status_code == 404
    assert not TrainingRun.objects.exists()
    created = start(client_for("owner"), project).json()
    assert client_for("viewer").get(f"/api/studies/{created['id']}/").status_code == 200
    hidden = client_for("stranger").get(f"/api/studies/{created['id']}/")
    assert hidden.status_code == 404 and hidden.json()["detail"] == "No such study."
    assert client_for("stranger").get(f"/api/projects/{project.pk}/studies/").status_code == 404
    assert client_for("annotator").post(f"/api/studies/{created['id']}/cancel/").status_code == 403
    assert client_for("stranger").post(f"/api/studies/{created['id']}/cancel/").status_code == 404
    assert TrainingRun.objects.filter(state="queued").count() == 4


@pytest.mark.django_db
def test_cancelling_a_study_cancels_its_unfinished_runs_and_keeps_finished_points(
    project, users, five_labelled, client_for
):
    manager = client_for("manager")
    created = start(manager, project).json()
    first, *rest = (point["run"] for point in created["points"])
    assert lifecycle.claim(first, worker="host:1") is not None
    assert lifecycle.finish(TrainingRun.objects.get(pk=first), RunState.SUCCEEDED)
    other = TrainingRun.objects.create(project=project, created_by=users["owner"])

    response = manager.post(f"/api/studies/{created['id']}/cancel/")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    states = {point["run"]: point["state"] for point in response.json()["points"]}
    assert states == {first: "succeeded", **dict.fromkeys(rest, "cancelled")}
    other.refresh_from_db()
    assert other.state == "queued", "runs outside the study are left alone"
    assert manager.post(f"/api/studies/{created['id']}/cancel/").status_code == 409


@pytest.mark.django_db
def test_a_point_whose_worker_died_fails_and_the_study_goes_on(
    project, five_labelled, client_for, settings, django_capture_on_commit_callbacks
):
    settings.RUN_STALE_SECONDS = 30
    created = start(client_for("manager"), project).json()
    first = created["points"][0]["run"]
    assert lifecycle.claim(first, worker="lost-host:1") is not None
    TrainingRun.objects.filter(pk=first).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    with django_capture_on_commit_callbacks(execute=True):  # the sweep publishes on commit
        body = client_for("viewer").get(f"/api/studies/{created['id']}/").json()
    assert [p["state"] for p in body["points"]] == ["failed", "queued", "queued", "queued"]
    assert body["state"] == "running" and body["points"][0]["pixel_f1"] is None
    assert not ModelVersion.objects.exists()


def test_a_points_model_scores_no_images_but_an_ordinary_runs_scores_them_all(
    project, users, five_labelled, client_for
):
    created = start(client_for("manager"), project).json()
    ordinary = create.run_create(project=project, user=users["manager"], options=dict(QUICK))
    versions = {}
    for run_id in (created["points"][0]["run"], ordinary.pk):
        run = TrainingRun.objects.get(pk=run_id)
        versions[run_id] = ModelVersion.objects.create(project=project, run=run, weights="models/x.pt")
    assert images_to_score(versions[created["points"][0]["run"]]) == []
    assert sorted(images_to_score(versions[ordinary.pk])) == sorted(
        project.images.values_list("pk", flat=True)
    )


# On a real worker ----------------------------------------------------------------------------


def study_ended(events: list[dict[str, Any]]) -> bool:
    last = events[-1]
    return last["type"] == "study.state" and last["state"] in ("succeeded", "failed", "cancelled")


def run_errors() -> dict[int, str]:
    """Why each run that failed failed (for the message of a failing assertion)."""
    return dict(TrainingRun.objects.exclude(error="").values_list("pk", "error"))


def follow_study(client: Any, project: Any, *, config: Any, until: Any, then: Any = None) -> tuple[Any, list]:
    """Start a study with the socket open; collect events until `until(events)` (calling `then`
    with the study once it is created and the first event arrives, if given)."""

    async def scenario() -> tuple[Any, list[dict[str, Any]]]:
        socket = socket_for(client, project.pk)
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from())["type"] == "hello"
        response = await off_the_loop(start, client, project, config)
        assert response.status_code == 201, response.content
        events = await events_until(socket, until, timeout=300)
        if then is not None:
            await off_the_loop(then, response.json())
            events += await events_until(socket, lambda more: study_ended(events + more), timeout=120)
        await socket.disconnect()
        return response.json(), events

    return asyncio.run(scenario())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_study_trains_every_size_on_a_worker_and_draws_its_curve_live(worker, project, users, client_for):
    images = add_labelled_images(project, users["owner"], count=3, validation=1)
    manager = client_for("manager")
    created, events = follow_study(manager, project, config=QUICK, until=study_ended)
    assert created["sizes"] == [1, 2, 3]

    mine = [e for e in events if e.get("study") == created["id"]]
    assert (mine[-1]["type"], mine[-1]["state"]) == ("study.state", "succeeded"), run_errors()
    finished = [e for e in mine if e["type"] == "study.point" and e["state"] == "succeeded"]
    assert [e["size"] for e in finished] == [1, 2, 3], "one point per size, smallest first"
    assert all(0.0 <= e["pixel_f1"] <= 1.0 for e in finished)
    by_size = {p["size"]: p for p in created["points"]}
    assert [e["run"] for e in finished] == [by_size[size]["run"] for size in (1, 2, 3)]
    running = [e["size"] for e in mine if e["type"] == "study.point" and e["state"] == "running"]
    assert running == [1, 2, 3]

    # Each point's model learned from the first k training images by name, scored on the rest.
    train, validation = images[:3], images[3]
    for event in finished:
        version = ModelVersion.objects.get(run_id=event["run"])
        assert version.metrics["train_images"] == [image.pk for image in train[: event["size"]]]
        assert version.metrics["validation_images"] == [validation.pk]
        assert version.metrics["validation"]["pixel_f1"] == event["pixel_f1"]

    body = manager.get(f"/api/studies/{created['id']}/").json()
    assert body["state"] == "succeeded"
    assert [(p["size"], p["train_images"], p["pixel_f1"]) for p in body["points"]] == [
        (e["size"], e["size"], e["pixel_f1"]) for e in finished
    ]
    gain = finished[2]["pixel_f1"] - finished[1]["pixel_f1"]
    assert body["gain"] == {"smaller": 2, "larger": 3, "pixel_f1": pytest.approx(gain, abs=1e-6)}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_study_stops_its_run_and_cancels_the_queued_ones(
    worker, project, users, client_for
):
    add_labelled_images(project, users["owner"], count=2, validation=1)
    manager = client_for("manager")
    long_run = {**QUICK, "steps": 5000, "steps_per_epoch": 1000}

    def first_running(events: list[dict[str, Any]]) -> bool:
        return events[-1]["type"] == "study.point" and events[-1]["state"] == "running"

    def cancel(study: dict[str, Any]) -> None:
        assert manager.post(f"/api/studies/{study['id']}/cancel/").status_code == 200

    created, events = follow_study(manager, project, config=long_run, until=first_running, then=cancel)
    assert events[-1]["type"] == "study.state" and events[-1]["state"] == "cancelled"
    ended = {
        e["size"]: e["state"]
        for e in events
        if e["type"] == "study.point"
        and e["study"] == created["id"]
        and e["state"] in ("succeeded", "failed", "cancelled")
    }
    assert ended == {1: "cancelled", 2: "cancelled"}, run_errors()
    wait_until(
        lambda: not TrainingRun.objects.exclude(state="cancelled").exists(), timeout=10, what="cancelled runs"
    )
    assert not ModelVersion.objects.exists(), "a cancelled point keeps no half-trained model"
