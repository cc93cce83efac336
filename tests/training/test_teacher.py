"""The fluorescence teacher in the app: preview, apply, people's layers kept, excluding, the API."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image as PILImage

from labeling import services
from labeling.models import Annotation, AnnotationKind, Image
from labeling.selectors import label_map_at
from tests.factories import paired_field_image, png_bytes
from training.features import teacher
from training.ml.fluorescence import TeacherParams
from training.models import RunState, TeacherJob, TrainingRun

pytestmark = pytest.mark.django_db


def layer(image: Image) -> Annotation | None:
    return teacher.teacher_layer(image)


def apply(project, author, **kwargs):
    nucleus_index = project.classes.get(name="nucleus").index
    return teacher.teacher_apply(
        project=project,
        author=author,
        channel="fluorescence",
        params=kwargs.pop("params", TeacherParams()),
        class_index=nucleus_index,
        **kwargs,
    )


def test_the_preview_counts_the_nuclei_and_changes_with_the_parameters(project, users, client_for):
    image = paired_field_image(project, users["owner"], seed=1)
    annotator = client_for("annotator")
    url = f"/api/images/{image.pk}/fluorescence-teacher/preview/"
    response = annotator.post(url, {"channel": "fluorescence", "params": {}}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert 3 <= body["objects"] <= 5  # four generated nuclei, two may touch
    overlay = PILImage.open(io.BytesIO(base64.b64decode(body["overlay"].split(",", 1)[1])))
    assert overlay.mode == "RGBA" and overlay.size == (image.width, image.height)
    assert np.asarray(overlay)[..., 3].any()
    strict = annotator.post(url, {"params": {"min_area": 5000}}, format="json").json()
    assert strict["objects"] == 0 and strict["params"]["min_area"] == 5000
    assert not Annotation.objects.filter(image=image).exists()  # a preview stores nothing


def test_preview_refuses_bad_input_with_a_clear_message(project, users, client_for):
    image = paired_field_image(project, users["owner"], seed=1)
    plain = paired_field_image(project, users["owner"], seed=2, fluorescence=False)
    annotator = client_for("annotator")
    url = f"/api/images/{image.pk}/fluorescence-teacher/preview/"
    bad = annotator.post(url, {"params": {"sigma": -2}}, format="json")
    assert bad.status_code == 400 and "sigma" in bad.content.decode()
    unknown = annotator.post(url, {"params": {"radius": 3}}, format="json")
    assert unknown.status_code == 400 and "unknown teacher parameters" in unknown.content.decode()
    missing = annotator.post(f"/api/images/{plain.pk}/fluorescence-teacher/preview/", {}, format="json")
    assert missing.status_code == 400 and "has no channel 'fluorescence'" in missing.content.decode()
    assert client_for("viewer").post(url, {}, format="json").status_code == 403
    assert client_for("stranger").post(url, {}, format="json").status_code == 404


def test_apply_stores_derived_layers_with_provenance_and_is_idempotent(project, users):
    images = [paired_field_image(project, users["owner"], seed=s) for s in (1, 2)]
    plain = paired_field_image(project, users["owner"], seed=3, fluorescence=False)
    applied = apply(project, users["annotator"])
    assert sorted(applied.made) == sorted(i.pk for i in images) and applied.missing == [plain.pk]
    nucleus_index = project.classes.get(name="nucleus").index
    for image in images:
        head = layer(image)
        assert head is not None and head.kind == AnnotationKind.DERIVED
        provenance = head.revisions.get(version=head.version).data["provenance"]
        assert provenance == {
            "source": "fluorescence-teacher",
            "channel": "fluorescence",
            "params": TeacherParams().to_dict(),
            "class_index": nucleus_index,
        }
        label_map = label_map_at(head)
        assert set(np.unique(label_map)) == {1, nucleus_index}
    again = apply(project, users["annotator"])
    assert sorted(again.unchanged) == sorted(i.pk for i in images) and not again.made
    changed = apply(project, users["annotator"], params=TeacherParams(sigma=1.0))
    assert sorted(changed.made) == sorted(i.pk for i in images)
    assert all(layer(image).version == 2 for image in images)


def test_a_layer_a_person_painted_on_is_never_overwritten(project, users):
    painted, untouched = (paired_field_image(project, users["owner"], seed=s) for s in (1, 2))
    apply(project, users["annotator"])
    head = layer(painted)
    stroke = {"class_index": 1, "radius": 4, "points": [[10, 10], [30, 30]]}
    services.annotation_save(
        image=painted,
        author=users["annotator"],
        kind=AnnotationKind.DERIVED,
        base_version=head.version,
        data={"strokes": [stroke], "provenance": {"source": teacher.SOURCE}},
    )
    before = label_map_at(layer(painted))
    applied = apply(project, users["manager"], params=TeacherParams(sigma=1.0))
    assert applied.kept == [painted.pk] and applied.made == [untouched.pk]
    assert np.array_equal(label_map_at(layer(painted)), before)
    assert teacher.teacher_states(project) == {painted.pk: "kept", untouched.pk: "teacher"}


def test_an_excluded_image_is_dropped_and_skipped_until_included(project, users, client_for):
    made, never_made = (paired_field_image(project, users["owner"], seed=s) for s in (1, 2))
    apply(project, users["annotator"], image_ids=[made.pk])
    annotator = client_for("annotator")
    for image in (made, never_made):
        response = annotator.post(f"/api/images/{image.pk}/fluorescence-teacher/exclude/")
        assert response.status_code == 200, response.content
        assert layer(image).is_deleted
    again = annotator.post(f"/api/images/{made.pk}/fluorescence-teacher/exclude/")
    assert again.status_code == 409
    applied = apply(project, users["annotator"])
    assert sorted(applied.excluded) == sorted([made.pk, never_made.pk]) and not applied.made
    # An excluded layer is not in what a run trains on.
    assert not Annotation.objects.filter(image__project=project, is_deleted=False).exists()
    included = annotator.post(f"/api/images/{made.pk}/fluorescence-teacher/include/", {}, format="json")
    assert included.status_code == 200, included.content
    assert not layer(made).is_deleted and label_map_at(layer(made)).max() > 1
    assert apply(project, users["annotator"]).unchanged == [made.pk]


def test_apply_through_the_api_checks_its_input_and_changes_nothing_on_bad_input(
    project, users, client_for, django_capture_on_commit_callbacks
):
    image = paired_field_image(project, users["owner"], seed=1)
    plain = paired_field_image(project, users["owner"], seed=2, fluorescence=False)
    url = f"/api/projects/{project.pk}/fluorescence-teacher/apply/"
    annotator = client_for("annotator")
    for body, message in (
        ({"params": {"block_size": 4}}, "block_size"),
        ({"channel": "dapi"}, "No image here has a channel 'dapi'"),
        ({"images": [plain.pk]}, "No image here has a channel 'fluorescence'"),
        ({"images": [999999]}, "not images of this project"),
        ({"class_index": 1}, "class_index 1"),
    ):
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = annotator.post(url, body, format="json")
        assert response.status_code == 400 and message in response.content.decode(), response.content
        assert not queued and not TeacherJob.objects.exists()
    assert client_for("viewer").post(url, {}, format="json").status_code == 403
    assert client_for("stranger").post(url, {}, format="json").status_code == 404
    with django_capture_on_commit_callbacks(execute=False) as queued:
        accepted = annotator.post(url, {"images": [image.pk]}, format="json")
    assert accepted.status_code == 202 and accepted.json()["total"] == 1 and len(queued) == 1
    assert not Annotation.objects.filter(image__project=project).exists()
    recorded = TeacherJob.objects.get()
    assert (recorded.job, recorded.state, recorded.done, recorded.total) == (
        accepted.json()["job"],
        RunState.QUEUED,
        0,
        1,
    )


def test_the_overview_follows_the_last_job_from_queued_to_done_and_ages_a_stalled_one(
    project, users, client_for, django_capture_on_commit_callbacks
):
    """A page opened while a job runs (or after its worker died) learns where it stands."""
    from training.actors import apply_fluorescence_teacher

    images = [paired_field_image(project, users["owner"], seed=seed) for seed in (1, 2)]
    annotator, viewer = client_for("annotator"), client_for("viewer")
    overview_url = f"/api/projects/{project.pk}/fluorescence-teacher/"
    assert viewer.get(overview_url).json()["job"] is None
    with django_capture_on_commit_callbacks(execute=False):
        job = annotator.post(f"{overview_url}apply/", {}, format="json").json()["job"]
    shown = viewer.get(overview_url).json()["job"]
    assert (shown["job"], shown["state"], shown["done"], shown["total"]) == (job, "queued", 0, 2)

    teacher.job_progress(project.pk, job, 1, 2)
    TeacherJob.objects.filter(job=job).update(updated_at=timezone.now() - timedelta(minutes=5))
    stalled = viewer.get(overview_url).json()["job"]
    assert (stalled["state"], stalled["done"]) == ("running", 1) and stalled["idle_seconds"] >= 299

    nucleus_index = project.classes.get(name="nucleus").index
    apply_fluorescence_teacher.fn(
        job, project.pk, users["annotator"].pk, "fluorescence", {}, nucleus_index, None
    )
    done = viewer.get(overview_url).json()["job"]
    assert (done["state"], done["done"], done["idle_seconds"] < 60) == ("succeeded", 2, True)
    assert sorted(done["summary"]["made"]) == sorted(image.pk for image in images)

    with django_capture_on_commit_callbacks(execute=False):
        later = annotator.post(f"{overview_url}apply/", {"images": [images[0].pk]}, format="json").json()
    newest = viewer.get(overview_url).json()["job"]
    assert (newest["job"], newest["state"], newest["total"]) == (later["job"], "queued", 1)


def test_the_overview_lists_each_image_with_its_channels_and_state(project, users, client_for):
    image = paired_field_image(project, users["owner"], seed=1)
    plain = paired_field_image(project, users["owner"], seed=2, fluorescence=False)
    apply(project, users["annotator"])
    body = client_for("viewer").get(f"/api/projects/{project.pk}/fluorescence-teacher/").json()
    assert body["defaults"] == TeacherParams().to_dict()
    rows = {row["id"]: row for row in body["images"]}
    assert rows[image.pk]["state"] == "teacher" and rows[plain.pk]["state"] == "none"
    assert rows[image.pk]["channels"] == ["brightfield", "fluorescence"]


def test_a_brightfield_run_can_take_only_the_teachers_pseudo_masks(project, users, client_for):
    taught, other = (paired_field_image(project, users["owner"], seed=s) for s in (1, 2))
    apply(project, users["annotator"], image_ids=[taught.pk])
    model_mask = np.ones((other.height, other.width), dtype=np.uint8)
    services.annotation_save(
        image=other,
        author=users["owner"],
        kind=AnnotationKind.DERIVED,
        base_version=0,
        data={"provenance": {"source": "model"}},
        mask=png_bytes(model_mask),
    )
    manager = client_for("manager")
    url = f"/api/projects/{project.pk}/runs/"
    config = {"channels": ["brightfield"], "label_sources": ["derived"], "steps": 10}
    everything = manager.post(url, {"config": config}, format="json")
    assert everything.status_code == 201, everything.content
    assert len(everything.json()["config"]["channels"]) == 1
    only = manager.post(url, {"config": {**config, "derived_sources": [teacher.SOURCE]}}, format="json")
    assert only.status_code == 201, only.content
    snapshot = [pk for pk, _ in TrainingRun.objects.get(pk=only.json()["id"]).label_snapshot]
    assert snapshot == [layer(taught).pk]
    assert len(TrainingRun.objects.get(pk=everything.json()["id"]).label_snapshot) == 2
    bad = manager.post(url, {"config": {**config, "derived_sources": "teacher"}}, format="json")
    assert bad.status_code == 400 and "derived_sources" in bad.content.decode()
    assert TrainingRun.objects.count() == 2
