"""Guided labelling without a worker: the uncertainty ranking, "next image", and correct-and-retrain.

Model versions and their predictions are made as rows here (training/scoring.py makes them on a
worker in tests/live/test_retrain.py); the ranking reads only their uncertainty.
"""

from __future__ import annotations

import numpy as np
import pytest

from labeling import services
from labeling.models import Image, Split
from tests.factories import field_png, png_bytes
from tests.live.conftest import TINY_RUN, add_labelled_images
from training.features import guidance
from training.models import ModelVersion, Prediction, TrainingRun
from training.runs import create

pytestmark = pytest.mark.django_db

STROKE = {"strokes": [{"class_index": 2, "radius": 3, "points": [[10, 10], [20, 12]]}]}


def add_image(project, uploader, name: str, *, split: str | None = None) -> Image:
    (image,) = services.image_ingest(
        project=project,
        uploader=uploader,
        uploads=[services.Upload(f"{name}.png", field_png(seed=len(name), size=32))],
        name=name,
    )
    if split is not None:
        image = services.image_update(image=image, split=split)
    return image


def add_version(project, user, uncertainties: dict[Image, float], *, kind: str = "segmentation", run=None):
    """A model version (of `run`, or of a finished run made here) that scored these images."""
    if run is None:
        run = TrainingRun.objects.create(project=project, created_by=user, state="succeeded")
    version = ModelVersion.objects.create(
        project=project, run=run, kind=kind, weights="models/none.pt", config=dict(run.config)
    )
    for image, uncertainty in uncertainties.items():
        Prediction.objects.create(
            model_version=version, image=image, mask="predictions/none.png", uncertainty=uncertainty
        )
    return version


def scribble(image: Image, author, base_version: int = 0):
    return services.annotation_save(
        image=image, author=author, kind="scribble", base_version=base_version, data=STROKE
    )


@pytest.fixture
def fields(project, users) -> dict[str, Image]:
    """Four training images named so that name order and uncertainty order differ."""
    return {name: add_image(project, users["owner"], name) for name in ("alpha", "bravo", "charlie", "delta")}


def ranking(client, project) -> list[dict]:
    response = client.get(f"/api/projects/{project.pk}/uncertainty-ranking/")
    assert response.status_code == 200, response.content
    return response.json()


def next_image(client, project, after: Image | None = None) -> dict:
    query = f"?after={after.pk}" if after is not None else ""
    response = client.get(f"/api/projects/{project.pk}/next-image/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_images_are_ranked_by_the_uncertainty_of_the_latest_model_version(project, users, fields, client_for):
    scores = {"alpha": 0.1, "bravo": 0.7, "charlie": 0.4, "delta": 0.9}
    version = add_version(project, users["owner"], {fields[n]: u for n, u in scores.items()})
    viewer = client_for("viewer")
    rows = ranking(viewer, project)
    assert [row["name"] for row in rows] == ["delta", "bravo", "charlie", "alpha"]
    assert rows[0] == {
        "rank": 1,
        "image": fields["delta"].pk,
        "name": "delta",
        "uncertainty": 0.9,
        "model_version": version.pk,
        "has_labels": False,
    }
    first = next_image(viewer, project)
    assert first["image"]["id"] == fields["delta"].pk and first["image"]["name"] == "delta"
    assert (first["rank"], first["of"], first["model_version"]) == (1, 4, version.pk)
    assert first["reason"] == f"most uncertain under model v{version.pk} (mean entropy 0.900)"


def test_the_ranking_changes_with_the_next_model_version(project, users, fields, client_for):
    first = add_version(project, users["owner"], {fields["alpha"]: 0.9, fields["bravo"]: 0.1})
    # A pretrained encoder is no segmentation model: it does not rank anything.
    add_version(project, users["owner"], {fields["bravo"]: 1.0}, kind="encoder")
    viewer = client_for("viewer")
    assert [row["name"] for row in ranking(viewer, project)][:2] == ["alpha", "bravo"]
    assert next_image(viewer, project)["model_version"] == first.pk

    second = add_version(
        project,
        users["owner"],
        {image: u for image, u in zip(fields.values(), (0.2, 0.8, 0.5, 0.3), strict=True)},
    )
    second.parent = first
    second.save(update_fields=["parent"])
    rows = ranking(viewer, project)
    assert [row["name"] for row in rows] == ["bravo", "charlie", "delta", "alpha"]
    assert {row["model_version"] for row in rows} == {second.pk}
    answer = next_image(viewer, project)
    assert answer["image"]["name"] == "bravo" and answer["model_version"] == second.pk


def test_unlabelled_images_come_first_then_unscored_ones_then_labelled_ones(
    project, users, fields, client_for
):
    scribble(fields["delta"], users["annotator"])  # the most uncertain, but labelled already
    version = add_version(
        project, users["owner"], {fields["alpha"]: 0.2, fields["bravo"]: 0.5, fields["delta"]: 0.9}
    )
    late = add_image(project, users["owner"], "aardvark")  # uploaded after the version scored
    add_image(project, users["owner"], "zulu", split=Split.VALIDATION)  # never ranked
    rows = ranking(client_for("viewer"), project)
    assert [(row["name"], row["has_labels"]) for row in rows] == [
        ("bravo", False),
        ("alpha", False),
        ("aardvark", False),
        ("charlie", False),
        ("delta", True),
    ]
    assert rows[2]["uncertainty"] is None and rows[2]["model_version"] is None
    assert rows[4]["model_version"] == version.pk
    # A derived pseudo-mask is no human label: the image still needs labels.
    services.annotation_save(
        image=late,
        author=users["annotator"],
        kind="derived",
        base_version=0,
        data={"provenance": {"source": "model"}},
        mask=png_bytes(np.ones((32, 32), np.uint8)),
    )
    assert ranking(client_for("viewer"), project)[2] == {**rows[2], "has_labels": False}


def test_after_walks_on_from_the_open_image_and_labelling_it_keeps_the_place(
    project, users, fields, client_for
):
    scores = {"alpha": 0.1, "bravo": 0.7, "charlie": 0.4, "delta": 0.9}
    add_version(project, users["owner"], {fields[n]: u for n, u in scores.items()})
    annotator = client_for("annotator")
    walk = [fields["delta"]]
    for _ in range(4):
        walk.append(Image.objects.get(pk=next_image(annotator, project, after=walk[-1])["image"]["id"]))
    # Skipping moves on (and wraps around) rather than bouncing between the top two.
    assert [image.name for image in walk] == ["delta", "bravo", "charlie", "alpha", "delta"]
    assert next_image(annotator, project, after=fields["delta"])["reason"].startswith("next most uncertain")

    # Labelled now, bravo drops to the end of the ranking; the walk from it still goes on to charlie.
    scribble(fields["bravo"], users["annotator"])
    assert ranking(annotator, project)[-1]["name"] == "bravo"
    assert next_image(annotator, project, after=fields["bravo"])["image"]["name"] == "charlie"
    # The labelled one is passed over while unlabelled ones are left.
    assert next_image(annotator, project, after=fields["alpha"])["image"]["name"] == "delta"
    assert next_image(annotator, project, after=fields["delta"])["image"]["name"] == "charlie"

    # Once every image has labels, the walk goes through them by uncertainty, to correct them.
    for name in ("alpha", "charlie", "delta"):
        scribble(fields[name], users["annotator"])
    answer = next_image(annotator, project, after=fields["delta"])
    assert answer["image"]["name"] == "bravo" and answer["has_labels"] is True
    assert answer["reason"].startswith("every other image has labels; next most uncertain labelled image")


def test_without_a_model_version_next_is_the_next_unlabelled_image_by_name(
    project, users, fields, client_for
):
    scribble(fields["bravo"], users["annotator"])
    viewer = client_for("viewer")
    first = next_image(viewer, project)
    assert first["image"]["name"] == "alpha" and first["model_version"] is None
    assert first["reason"] == "no model version yet: the next image without labels, by name"
    assert next_image(viewer, project, after=fields["alpha"])["image"]["name"] == "charlie"
    assert next_image(viewer, project, after=fields["delta"])["image"]["name"] == "alpha"  # wraps
    rows = ranking(viewer, project)
    assert [row["name"] for row in rows] == ["alpha", "charlie", "delta", "bravo"]
    assert all(row["uncertainty"] is None and row["model_version"] is None for row in rows)

    for name in ("alpha", "charlie", "delta"):
        scribble(fields[name], users["annotator"])
    done = next_image(viewer, project, after=fields["alpha"])
    assert done["image"] is None and done["rank"] is None and done["of"] == 4
    assert done["reason"] == "Every image has labels. Train a model to rank them by its uncertainty."


def test_a_bad_after_is_a_400_and_a_validation_image_starts_at_the_top(project, users, fields, client_for):
    viewer = client_for("viewer")
    url = f"/api/projects/{project.pk}/next-image/"
    for bad in ("abc", "-1"):
        response = viewer.get(f"{url}?after={bad}")
        assert response.status_code == 400 and f"'{bad}' is not a whole number" in str(
            response.json()["after"]
        )
    response = viewer.get(f"{url}?after=999999")
    assert response.status_code == 400 and "is not the id of an image of this project" in str(
        response.json()["after"]
    )
    held_out = add_image(project, users["owner"], "echo", split=Split.VALIDATION)
    assert next_image(viewer, project, after=held_out)["image"]["name"] == "alpha"
    services.image_archive(image=fields["alpha"])
    assert viewer.get(f"{url}?after={fields['alpha'].pk}").status_code == 400
    assert next_image(viewer, project)["image"]["name"] == "bravo"  # archived images are not offered


def test_strangers_get_404_and_viewers_read_but_do_not_retrain(project, users, fields, client_for):
    version = add_version(project, users["owner"], {fields["alpha"]: 0.5})
    stranger = client_for("stranger")
    for url in (
        f"/api/projects/{project.pk}/next-image/",
        f"/api/projects/{project.pk}/uncertainty-ranking/",
    ):
        assert stranger.get(url).status_code == 404
        assert client_for("viewer").get(url).status_code == 200
    retrain = f"/api/model-versions/{version.pk}/retrain/"
    assert stranger.post(retrain).status_code == 404
    for name in ("viewer", "annotator"):
        response = client_for(name).post(retrain)
        assert response.status_code == 403 and "manager role" in response.json()["detail"]
    assert TrainingRun.objects.count() == 1  # the version's own run; nothing new


# Correct-and-retrain ------------------------------------------------------------------------


@pytest.fixture
def trained(project, users):
    """A version of a real run (made by run_create, as the API starts one) on two dense masks."""
    images = add_labelled_images(project, users["owner"], count=2, validation=1)
    options = {
        **TINY_RUN,
        "preview_images": 1,
        "label_sources": ["dense", "scribble"],
        "learning_rate": 0.002,
    }
    run = create.run_create(project=project, user=users["manager"], options=options)
    TrainingRun.objects.filter(pk=run.pk).update(state="succeeded")
    return images, add_version(project, users["owner"], {images[0]: 0.3}, run=run)


def test_retrain_warm_starts_from_the_version_with_its_options_and_the_labels_of_now(
    project, users, client_for, trained
):
    images, version = trained
    correction = scribble(images[1], users["annotator"])
    response = client_for("manager").post(f"/api/model-versions/{version.pk}/retrain/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["warm_start"] == version.pk and body["state"] == "queued"
    new = TrainingRun.objects.get(pk=body["id"])
    assert new.config == version.run.config  # the same options, re-validated by run_create
    assert new.config["preview_count"] == 1 and new.config["train"]["learning_rate"] == 0.002
    assert [correction.pk, correction.version] in new.label_snapshot
    assert [correction.pk, correction.version] not in version.run.label_snapshot


def test_run_options_give_back_what_run_create_stored(project, users, trained):
    _, version = trained
    original = version.run
    options = guidance.run_options(original.config, project=project)
    again = create.run_create(project=project, user=users["manager"], options=options)
    assert again.config == original.config
    derived = create.run_create(
        project=project,
        user=users["manager"],
        options={
            **TINY_RUN,
            "label_sources": ["dense", "derived"],
            "derived_sources": ["model"],
            "test_time_augmentation": True,
        },
    )
    assert derived.config["test_time_augmentation"] is True
    rebuilt = guidance.run_options(derived.config, project=project)
    assert create.run_create(project=project, user=users["manager"], options=rebuilt).config == derived.config


def test_a_tags_run_is_retrained_with_its_tag_strategy(project, users, nucleus, client_for):
    images = [add_image(project, users["owner"], name) for name in ("one", "two", "three")]
    for image, present in zip(images, (True, False, True), strict=True):
        services.annotation_save(
            image=image,
            author=users["annotator"],
            kind="tag",
            label_class=nucleus,
            base_version=0,
            data={"present": present},
        )
    options = {**TINY_RUN, "strategy": "tags", "tag_class": nucleus.pk, "tile": 32, "classifier_steps": 5}
    run = create.run_create(project=project, user=users["manager"], options=options)
    version = add_version(project, users["owner"], {images[0]: 0.2}, run=run)
    response = client_for("manager").post(f"/api/model-versions/{version.pk}/retrain/")
    assert response.status_code == 201, response.content
    assert TrainingRun.objects.get(pk=response.json()["id"]).config == run.config


def test_retrain_refuses_what_is_no_segmentation_model_and_creates_nothing(
    project, users, client_for, trained
):
    images, version = trained
    encoder = add_version(project, users["owner"], {}, kind="encoder")
    manager = client_for("manager")
    response = manager.post(f"/api/model-versions/{encoder.pk}/retrain/")
    assert response.status_code == 400
    assert "not a segmentation model" in response.json()["detail"]
    missing = manager.post("/api/model-versions/999999/retrain/")
    assert missing.status_code == 404 and missing.json()["detail"] == "No such model version."
    # A run option retrain does not know how to repeat: refused, not dropped without a word.
    odd = TrainingRun.objects.create(
        project=project,
        created_by=users["manager"],
        state="succeeded",
        config={**version.run.config, "pretrain": 1},
    )
    response = manager.post(
        f"/api/model-versions/{add_version(project, users['owner'], {}, run=odd).pk}/retrain/"
    )
    assert (
        response.status_code == 400
        and "cannot repeat this run's options (pretrain)" in response.json()["detail"]
    )
    # With every label gone there is nothing to train on: run_create's 400, nothing created.
    for image in images:
        for annotation in image.annotations.filter(is_deleted=False):
            services.annotation_delete(
                annotation=annotation, author=users["owner"], base_version=annotation.version
            )
    response = manager.post(f"/api/model-versions/{version.pk}/retrain/")
    assert response.status_code == 400 and "Nothing to train on" in response.json()["detail"]
    assert not TrainingRun.objects.filter(warm_start__isnull=False).exists()  # no retrain was created
