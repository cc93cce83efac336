"""Starting and cancelling runs through the API, without a worker: validation, roles, lifecycle."""

from __future__ import annotations

from datetime import timedelta

import pytest
import torch
from django.utils import timezone

from labeling import services
from training.ml.config import TrainConfig
from training.ml.models import create_model
from training.models import ModelVersion, RunState, TrainingRun
from training.runs import lifecycle

from .conftest import TINY_RUN, add_labelled_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(project, users):
    return add_labelled_images(project, users["owner"], count=2, validation=1)


def start(client, project, config=None, **body):
    body = {"config": config or TINY_RUN, **body}
    return client.post(f"/api/projects/{project.pk}/runs/", body, format="json")


def test_a_run_freezes_the_labels_it_starts_from(project, users, labelled, client_for):
    response = start(client_for("manager"), project)
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    frozen = list(run.label_snapshot)
    assert len(frozen) == 3 and all(version == 1 for _, version in frozen)
    assert run.config["channels"] == ["gray"] and run.config["classes"] == [1, 2]
    assert run.config["train"]["in_channels"] == 1 and run.config["train"]["num_classes"] == 2
    assert run.config["train"]["weight_classes"] is False  # only tags runs weight the classes
    assert run.config["test_time_augmentation"] is False  # scoring 8x slower only when asked for
    # Labelling goes on; the run keeps the versions it was started with.
    services.annotation_save(
        image=labelled[0],
        author=users["annotator"],
        kind="dense",
        base_version=1,
        data={"strokes": [{"class_index": 2, "radius": 3, "points": [[10, 10]]}]},
    )
    run.refresh_from_db()
    assert run.label_snapshot == frozen


def test_validation_images_train_only_from_dense_masks(project, users, labelled, client_for):
    validation_image = labelled[-1]
    services.annotation_save(
        image=validation_image,
        author=users["annotator"],
        kind="scribble",
        base_version=0,
        data={"strokes": [{"class_index": 2, "radius": 3, "points": [[10, 10]]}]},
    )
    run = TrainingRun.objects.get(pk=start(client_for("manager"), project).json()["id"])
    kinds = {
        annotation.kind
        for annotation in validation_image.annotations.filter(pk__in=[pk for pk, _ in run.label_snapshot])
    }
    assert kinds == {"dense"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"architecture": "transformer"}, "architecture"),
        ({"patch_size": 100}, "multiple of 32"),
        ({"pairwise_weight": -1}, "pairwise_weight must be >= 0"),
        ({"steps": 10**9}, "steps <="),
        ({"num_classes": 7}, "set by the server"),
        ({"label_sources": ["tags"]}, "label_sources"),
        ({"channels": ["fluorescence"]}, "no channel fluorescence"),
        ({"surprise": 1}, "unknown TrainConfig fields"),
        ({"weight_classes": "no"}, "weight_classes must be true or false"),
        ({"test_time_augmentation": "yes"}, "test_time_augmentation must be true or false"),
        ({"steps": "50"}, "steps must be a whole number"),
        ({"learning_rate": True}, "learning_rate must be a finite number"),
        ({"learning_rate": -0.001}, "learning_rate must be > 0"),
        ({"weight_decay": -1}, "weight_decay must be >= 0"),
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"scale_range": [30, 30], "patch_size": 1024}, "TRAIN_MAX_CROP"),
        ({"scale_range": ["big", 2]}, "scale_range must be"),
        ({"freeze_encoder": True}, "choose a warm start"),
    ],
)
def test_a_bad_strategy_is_a_400_and_starts_nothing(project, labelled, client_for, config, message):
    response = start(client_for("manager"), project, config={**TINY_RUN, **config})
    assert response.status_code == 400 and message in str(response.json()), response.json()
    assert not TrainingRun.objects.exists()


def test_nothing_to_train_on_is_a_400(project, client_for):
    response = start(client_for("manager"), project)
    assert response.status_code == 400 and "Nothing to train on" in response.json()["detail"]


def test_only_managers_start_and_cancel_runs_and_strangers_see_none(project, labelled, client_for):
    assert start(client_for("annotator"), project).status_code == 403
    assert start(client_for("stranger"), project).status_code == 404
    run = start(client_for("owner"), project).json()
    assert client_for("annotator").post(f"/api/runs/{run['id']}/cancel/").status_code == 403
    assert client_for("viewer").get(f"/api/runs/{run['id']}/").status_code == 200
    hidden = client_for("stranger").get(f"/api/runs/{run['id']}/")
    assert hidden.status_code == 404 and hidden.json()["detail"] == "No such training run."


def test_a_warm_start_must_match_the_channels_and_the_network(project, users, labelled, client_for):
    manager = client_for("manager")
    missing = start(manager, project, warm_start=123456)
    assert missing.status_code == 400 and "No such model version" in str(missing.json())
    first = TrainingRun.objects.get(pk=start(manager, project).json()["id"])

    def version(**changes):
        config = {**first.config, **changes, "ranges": [[0, 255]]}
        run = TrainingRun.objects.create(project=project, created_by=users["owner"], state="succeeded")
        return ModelVersion.objects.create(project=project, run=run, weights="models/none.pt", config=config)

    matching = version()
    assert start(manager, project, warm_start=matching.pk).status_code == 201
    for changed, message in (
        (version(channels=["fluorescence"]), "reads channels ['fluorescence'], this run ['gray']"),
        (version(train={**first.config["train"], "architecture": "fpn"}), "is a fpn/resnet18"),
        (version(train={**first.config["train"], "encoder": "resnet34"}), "is a unet/resnet34"),
    ):
        response = start(manager, project, warm_start=changed.pk)
        assert response.status_code == 400 and message in response.json()["detail"], response.content
    assert TrainingRun.objects.filter(warm_start__isnull=False).count() == 1  # only the matching one


def test_cancelling_a_queued_run_ends_it_at_once(project, labelled, client_for):
    manager = client_for("manager")
    first, second = start(manager, project).json(), start(manager, project).json()
    assert (first["queue_position"], second["queue_position"]) == (1, 2)
    response = manager.post(f"/api/runs/{first['id']}/cancel/")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert manager.get(f"/api/runs/{second['id']}/").json()["queue_position"] == 1
    assert manager.post(f"/api/runs/{first['id']}/cancel/").status_code == 409


def test_a_running_run_without_heartbeats_is_swept_to_failed(project, users, labelled, client_for, settings):
    settings.RUN_STALE_SECONDS = 30
    run = TrainingRun.objects.get(pk=start(client_for("manager"), project).json()["id"])
    assert lifecycle.claim(run.pk, worker="lost-host:1") is not None
    assert lifecycle.claim(run.pk, worker="other-host:2") is None, "a run is claimed once"
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=10))
    assert lifecycle.sweep_stale_runs() == []
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    body = client_for("viewer").get(f"/api/runs/{run.pk}/").json()
    assert body["state"] == RunState.FAILED and "lost-host:1 stopped responding" in body["error"]


def test_imagenet_weights_are_used_only_from_a_configured_copy_on_disk(
    project, labelled, client_for, settings, tmp_path
):
    imagenet = {**TINY_RUN, "encoder_weights": "imagenet"}
    settings.LESSLABEL_WEIGHTS_DIR = ""
    response = start(client_for("manager"), project, config=imagenet)
    assert response.status_code == 400 and "LESSLABEL_WEIGHTS_DIR" in response.json()["detail"]
    settings.LESSLABEL_WEIGHTS_DIR = str(tmp_path)
    response = start(client_for("manager"), project, config=imagenet)
    assert response.status_code == 400 and "no ImageNet weights for resnet18" in response.json()["detail"]
    assert not TrainingRun.objects.exists()
    # A local copy: an encoder state dict saved as <encoder>.pth.
    network = create_model(TrainConfig(in_channels=3, encoder="resnet18"))
    torch.save(network.encoder.state_dict(), tmp_path / "resnet18.pth")
    response = start(client_for("manager"), project, config=imagenet)
    assert response.status_code == 201, response.content
    assert TrainingRun.objects.get().config["train"]["encoder_weights"] == "imagenet"
