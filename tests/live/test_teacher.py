"""The fluorescence teacher on a real worker: pseudo-masks for every stained field, with live
progress, then a brightfield-only model trained on them that scores a field with no stain."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from labeling import services
from labeling.labelmaps import decode_png_map
from labeling.models import Annotation
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from training.features.teacher import SOURCE
from training.models import ModelVersion, Prediction, TrainingRun

from .conftest import TINY_RUN, off_the_loop, wait_until
from .test_workers import events_until, socket_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def add_fields(project: Any, uploader: Any, *, stained: int, size: int = 64) -> tuple[list[Any], Any]:
    """`stained` brightfield + fluorescence fields, and one field with brightfield only."""
    images = []
    nuclei = max(4, size * size // 1024)
    for seed in range(stained + 1):
        field = synthetic_field(seed=seed, height=size, width=size, nuclei=nuclei, radius=(5, 9))
        uploads = [services.Upload(f"f{seed}-bf.png", png_bytes(field.brightfield))]
        names = ["brightfield"]
        if seed < stained:
            uploads.append(services.Upload(f"f{seed}-fl.png", png_bytes(field.fluorescence)))
            names.append("fluorescence")
        (image,) = services.image_ingest(
            project=project, uploader=uploader, uploads=uploads, channel_names=names, name=f"field-{seed}"
        )
        images.append(image)
    return images[:-1], images[-1]


def test_the_teacher_labels_stained_fields_on_a_worker_and_a_brightfield_model_learns_from_them(
    worker, project, users, client_for
):
    stained, unstained = add_fields(project, users["owner"], stained=3)
    annotator, manager = client_for("annotator"), client_for("manager")

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        socket = socket_for(annotator, project.pk)
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from())["type"] == "hello"
        response = await off_the_loop(
            annotator.post,
            f"/api/projects/{project.pk}/fluorescence-teacher/apply/",
            {"channel": "fluorescence", "params": {"sigma": 1.5}},
            format="json",
        )
        assert response.status_code == 202, response.content

        def finished(events: list[dict[str, Any]]) -> bool:
            return events[-1]["type"] in ("teacher.finished", "teacher.failed")

        events = await events_until(socket, finished, timeout=120)
        await socket.disconnect()
        return response.json(), events

    job, events = asyncio.run(scenario())
    assert job["total"] == 4
    mine = [e for e in events if e.get("job") == job["job"]]
    progress = [(e["done"], e["total"]) for e in mine if e["type"] == "teacher.progress"]
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    result = mine[-1]
    assert result["type"] == "teacher.finished", result
    assert sorted(result["made"]) == sorted(i.pk for i in stained) and result["missing"] == [unstained.pk]
    layers = Annotation.objects.filter(image__project=project, key=SOURCE, is_deleted=False)
    assert layers.count() == 3

    config = {
        **TINY_RUN,
        "channels": ["brightfield"],
        "label_sources": ["derived"],
        "derived_sources": [SOURCE],
    }
    created = manager.post(f"/api/projects/{project.pk}/runs/", {"config": config}, format="json")
    assert created.status_code == 201, created.content
    run = TrainingRun.objects.get(pk=created.json()["id"])
    assert sorted(pk for pk, _ in run.label_snapshot) == sorted(layers.values_list("pk", flat=True))
    version = wait_until(
        lambda: ModelVersion.objects.filter(run=run).first(),
        timeout=240,
        what="a model version",
        worker=worker,
    )
    assert version.config["channels"] == ["brightfield"]
    scored = wait_until(
        lambda: Prediction.objects.filter(model_version=version, image=unstained).first(),
        timeout=120,
        what="the prediction of the field without fluorescence",
        worker=worker,
    )
    classes = decode_png_map(scored.mask.read(), what="prediction")
    nucleus = project.classes.get(name="nucleus").index
    assert classes.shape == (64, 64) and set(np.unique(classes)) <= {1, nucleus}
