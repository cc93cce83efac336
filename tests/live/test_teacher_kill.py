"""A worker killed while applying the fluorescence teacher: whole layers, an honest job record,
and a rerun that completes.

In a module of its own so that the victim is the only worker consuming the queue (the module-scoped
worker of tests/live/test_teacher.py would otherwise pick the job up and carry on through the kill).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labeling.labelmaps import decode_png_map
from labeling.models import Annotation
from training.features.teacher import SOURCE

from .conftest import wait_until
from .test_teacher import add_fields

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_while_applying_the_teacher_leaves_whole_layers_and_a_rerun_completes(
    start_worker, project, users, client_for
):
    """Each image's layer is one transaction: after SIGKILL mid-job every layer that exists is a
    whole, decodable teacher map, and applying again makes the rest without repeating the done."""
    total = 24
    stained, _ = add_fields(project, users["owner"], stained=total, size=256)
    annotator = client_for("annotator")
    victim = start_worker()

    def layers() -> Any:
        return Annotation.objects.filter(image__project=project, key=SOURCE)

    applied = annotator.post(
        f"/api/projects/{project.pk}/fluorescence-teacher/apply/",
        {"channel": "fluorescence"},
        format="json",
    )
    assert applied.status_code == 202, applied.content
    wait_until(lambda: layers().exists(), timeout=120, what="the first teacher layer", worker=victim)
    victim.kill()
    done_before = set(layers().values_list("image_id", flat=True))
    assert 0 < len(done_before) < total, f"the kill should land mid-job; {len(done_before)} of {total} done"
    overview_url = f"/api/projects/{project.pk}/fluorescence-teacher/"
    stuck = annotator.get(overview_url).json()["job"]
    assert stuck["job"] == applied.json()["job"] and stuck["state"] in ("queued", "running"), stuck
    assert len(done_before) - 1 <= stuck["done"] <= len(done_before), "the page would show a wrong count"
    nucleus = project.classes.get(name="nucleus").index
    for layer in layers():
        (revision,) = layer.revisions.all()
        assert revision.data["provenance"]["source"] == SOURCE
        labels = decode_png_map(revision.mask.read(), what="teacher layer")
        assert labels.shape == (256, 256) and nucleus in set(np.unique(labels))

    survivor = start_worker()
    again = annotator.post(
        f"/api/projects/{project.pk}/fluorescence-teacher/apply/",
        {"channel": "fluorescence"},
        format="json",
    )
    assert again.status_code == 202, again.content
    wait_until(
        lambda: layers().count() == total, timeout=180, what="the rerun to reach every field", worker=survivor
    )
    assert set(layers().values_list("image_id", flat=True)) == {image.pk for image in stained}
    assert all(layer.version == 1 for layer in layers()), "a layer made before the kill was made again"

    def rerun_finished() -> dict[str, Any] | None:
        job = annotator.get(overview_url).json()["job"]
        return job if job["state"] == "succeeded" else None

    finished = wait_until(
        rerun_finished, timeout=60, what="the rerun's job to read as finished", worker=survivor
    )
    assert finished["job"] == again.json()["job"]
    assert finished["done"] == finished["total"] == total + 1, "every field, the unstained one too"
    assert len(finished["summary"]["unchanged"]) >= len(done_before)
