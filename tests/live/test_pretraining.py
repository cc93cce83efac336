"""The "pretrain" strategy: a self-supervised run on a real worker makes an encoder version, which
segmentation runs of the same project, or of another project, then start from."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from labeling import selectors, services
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from training.ml import checkpoint as ckpt
from training.models import ModelVersion, Prediction, RunMetric, TrainingRun

from .conftest import TINY_RUN, add_labelled_images, wait_until
from .test_teacher import add_fields

TINY_NETWORK = {key: value for key, value in TINY_RUN.items() if key != "preview_images"}
FLUORESCENCE = {
    "strategy": "pretrain",
    "task": "fluorescence",
    "target_channels": ["fluorescence"],
    "channels": ["brightfield"],
    **TINY_NETWORK,
}


def start(client: Any, project: Any, config: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/api/projects/{project.pk}/runs/", {"config": config, **body}, format="json")


def weights_of(version: ModelVersion) -> dict[str, torch.Tensor]:
    return ckpt.checkpoint_from_bytes(selectors.read_file(version.weights), where="test").model_state


def finished(run_id: int) -> TrainingRun | None:
    run = TrainingRun.objects.get(pk=run_id)
    return run if run.is_finished else None


def label_densely(image: Any, uploader: Any, seed: int) -> None:
    field = synthetic_field(seed=seed, height=64, width=64, nuclei=4, radius=(5, 9))
    mask = np.where(field.mask > 0, 2, 1).astype(np.uint8)
    services.annotation_save(
        image=image, author=uploader, kind="dense", base_version=0, data={}, mask=png_bytes(mask)
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pretraining_makes_an_encoder_that_segmentation_runs_here_and_elsewhere_start_from(
    worker, project, users, client_for
):
    stained, _ = add_fields(project, users["owner"], stained=3)
    manager = client_for("manager")

    response = start(manager, project, {**FLUORESCENCE, "stain_patch_fraction": 0.75})
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.config["strategy"]["pretrain"]["stain_patch_fraction"] == 0.75
    # Every field with both channels, none labelled: the unstained field cannot teach this task.
    assert sorted(run.config["strategy"]["images"]) == sorted(image.pk for image in stained)
    assert run.label_snapshot == []
    run = wait_until(lambda: finished(run.pk), timeout=240, what="the pretraining run", worker=worker)
    assert run.state == "succeeded", run.error
    encoder = ModelVersion.objects.get(run=run)
    assert encoder.kind == "encoder" and encoder.config["channels"] == ["brightfield"]
    learned = encoder.metrics["pretraining"]
    assert learned["task"] == "fluorescence" and learned["images"] == 3
    assert learned["last_loss"] < learned["first_loss"]
    # Its loss curve was stored for the training page like any run's.
    assert RunMetric.objects.filter(run=run, kind="progress").exists()

    # The same project: label two fields, train a brightfield segmentation model from the encoder,
    # keeping the encoder fixed (few labelled fields would otherwise wash out what it learnt).
    for seed, image in enumerate(stained[:2]):
        label_densely(image, users["owner"], seed)
    segmentation = {**TINY_RUN, "channels": ["brightfield"]}
    response = start(manager, project, {**segmentation, "freeze_encoder": True}, warm_start=encoder.pk)
    assert response.status_code == 201, response.content
    here = wait_until(
        lambda: finished(response.json()["id"]), timeout=240, what="the warm run", worker=worker
    )
    assert here.state == "succeeded", here.error
    tuned = ModelVersion.objects.get(run=here)
    assert tuned.parent_id == encoder.pk
    before, after = weights_of(encoder), weights_of(tuned)
    encoder_names = [name for name in before if name.startswith("encoder.")]
    assert all(torch.equal(after[name], before[name]) for name in encoder_names), "the encoder stayed"
    decoder = [name for name in before if name.startswith("decoder.") and before[name].is_floating_point()]
    assert any(not torch.equal(after[name], before[name]) for name in decoder), "the decoder trained"

    # Another project of the same owner, with its own labels: transfer across projects.
    other = services.project_create(name="Other lab", owner=users["owner"], description="")
    services.label_class_create(project=other, name="nucleus", color="#00ff00", countable=True)
    (elsewhere,) = services.image_ingest(
        project=other,
        uploader=users["owner"],
        uploads=[
            services.Upload("b.png", png_bytes(synthetic_field(seed=9, height=64, width=64).brightfield))
        ],
        channel_names=["brightfield"],
        name="field-b",
    )
    label_densely(elsewhere, users["owner"], 9)
    owner = client_for("owner")
    response = start(owner, other, segmentation, warm_start=encoder.pk)
    assert response.status_code == 201, response.content
    there = wait_until(
        lambda: finished(response.json()["id"]), timeout=240, what="the transfer run", worker=worker
    )
    assert there.state == "succeeded", there.error
    transferred = ModelVersion.objects.get(run=there)
    assert transferred.parent_id == encoder.pk and transferred.project_id == other.pk
    wait_until(
        lambda: Prediction.objects.filter(model_version=transferred).exists(),
        timeout=120,
        what="the transferred model's predictions",
        worker=worker,
    )
    # An encoder predicts nothing and makes no pseudo-masks.
    assert not Prediction.objects.filter(model_version=encoder).exists()
    refused = manager.post(f"/api/model-versions/{encoder.pk}/pseudo-masks/", {}, format="json")
    assert refused.status_code == 400 and "does not predict" in str(refused.json())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_masked_pretraining_learns_from_every_image_labelled_or_not(worker, project, users, client_for):
    labelled = add_labelled_images(project, users["owner"], count=1, validation=0)
    (unlabelled,) = services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[
            services.Upload("bare.png", png_bytes(synthetic_field(seed=5, height=64, width=64).brightfield))
        ],
    )
    response = start(
        client_for("manager"), project, {"strategy": "pretrain", "task": "masked", **TINY_NETWORK}
    )
    assert response.status_code == 201, response.content
    run = wait_until(
        lambda: finished(response.json()["id"]), timeout=240, what="the masked run", worker=worker
    )
    assert run.state == "succeeded", run.error
    assert sorted(run.config["strategy"]["images"]) == sorted([labelled[0].pk, unlabelled.pk])
    encoder = ModelVersion.objects.get(run=run)
    learned = encoder.metrics["pretraining"]
    assert encoder.kind == "encoder" and learned["task"] == "masked" and learned["images"] == 2
    assert learned["last_loss"] < learned["first_loss"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"task": "colour"}, "task must be one of"),
        ({"task": "masked", "target_channels": ["fluorescence"]}, "only apply to the task"),
        ({"target_channels": ["phase"]}, "No image of this project has the channels"),
        ({"channels": ["fluorescence"]}, "both an input and a target"),
        ({"mask_square": 24}, "must divide"),
        ({"stain_patch_fraction": 2}, "stain_patch_fraction must be between"),
        ({"steps": 10**9}, "steps <="),
        ({"freeze_encoder": True}, "not for pretraining"),
    ],
)
def test_bad_pretraining_settings_are_a_400_and_start_nothing(project, users, client_for, config, message):
    add_fields(project, users["owner"], stained=1)
    response = start(client_for("manager"), project, {**FLUORESCENCE, **config})
    assert response.status_code == 400 and message in str(response.json()), response.json()
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_stranger_cannot_start_from_a_version_of_a_project_they_cannot_read(project, users, client_for):
    add_fields(project, users["owner"], stained=1)
    run = TrainingRun.objects.create(project=project, created_by=users["owner"], config=FLUORESCENCE)
    encoder = ModelVersion.objects.create(project=project, run=run, kind="encoder", weights="models/x.pt")
    own = services.project_create(name="Mine", owner=users["stranger"], description="")
    add_fields(own, users["stranger"], stained=1)
    response = start(client_for("stranger"), own, {**FLUORESCENCE}, warm_start=encoder.pk)
    assert response.status_code == 400 and "project you can read" in str(response.json())
    assert TrainingRun.objects.filter(project=own).count() == 0
