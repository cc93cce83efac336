"""The "tags" run strategy: image-level tags -> Score-CAM pseudo-masks -> U-Net, on a real worker."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from labeling import services
from labeling.models import Annotation, Image, LabelClass, Project
from labeling.selectors import label_map_at
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from training.ml.scorecam import CAM_HIGH, CAM_LOW
from training.models import TrainingRun
from training.runs.snapshot import load_run_data
from training.runs.spec import RunSpec

from .conftest import TINY_RUN, off_the_loop, wait_until
from .test_workers import events_until, socket_for

pytestmark = pytest.mark.slow
TAGS = {"strategy": "tags", "tile": 64, "classifier_steps": 30}
BACKGROUND, NUCLEUS = 1, 2  # label-map values of the project's classes
FINAL = ("succeeded", "failed", "cancelled")


def add_tagged_images(project: Project, author: Any, nucleus: LabelClass, present: list[bool]) -> list[Image]:
    """64x64 fields, with nuclei where tagged present, without where tagged absent."""
    images = []
    for seed, is_present in enumerate(present):
        field = synthetic_field(seed=seed, height=64, width=64, nuclei=4 if is_present else 0, radius=(6, 9))
        (image,) = services.image_ingest(
            project=project,
            uploader=author,
            uploads=[services.Upload(f"tagged-{seed:02d}.png", png_bytes(field.fluorescence))],
        )
        services.annotation_save(
            image=image,
            author=author,
            kind="tag",
            base_version=0,
            data={"present": is_present},
            label_class=nucleus,
        )
        images.append(image)
    return images


def add_tile_tagged_image(project: Project, author: Any, nucleus: LabelClass) -> Image:
    """A 128x128 field with nuclei in its left half only, its 64-px tiles tagged: the left ones
    present, the top right absent, the bottom right left untagged."""
    left = synthetic_field(seed=7, height=128, width=64, nuclei=6, radius=(6, 9)).fluorescence
    right = synthetic_field(seed=8, height=128, width=64, nuclei=0).fluorescence
    (image,) = services.image_ingest(
        project=project,
        uploader=author,
        uploads=[services.Upload("tiled.png", png_bytes(np.concatenate([left, right], axis=1)))],
    )
    services.annotation_save(
        image=image,
        author=author,
        kind="tiles",
        base_version=0,
        data={"tiles": [[0, 0, 64, 64, True], [0, 64, 64, 64, True], [64, 0, 64, 64, False]]},
        label_class=nucleus,
    )
    return image


def start(client: Any, project: Project, config: dict[str, Any]) -> Any:
    return client.post(f"/api/projects/{project.pk}/runs/", {"config": config}, format="json")


# Starting: validation, without a worker ------------------------------------------------------


@pytest.mark.django_db
def test_a_tags_run_freezes_its_tags_and_trains_from_tags_alone(project, users, nucleus, client_for):
    images = add_tagged_images(project, users["owner"], nucleus, [True, False])
    response = start(client_for("manager"), project, {**TINY_RUN, **TAGS, "tag_class": nucleus.pk})
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    strategy = run.config["strategy"]
    assert strategy["tag_class"] == nucleus.pk and strategy["tag_index"] == NUCLEUS
    assert strategy["background_index"] == BACKGROUND and strategy["tile"] == 64
    assert sorted(pk for pk, _ in strategy["tags"]) == sorted(
        i.annotations.get(kind="tag").pk for i in images
    )
    assert run.label_snapshot == [] and run.config["channels"] == ["gray"]
    assert run.config["train"]["weight_classes"] is True  # the pseudo-masks' default


@pytest.mark.django_db
def test_a_tags_run_keeps_class_weights_the_person_turned_off(project, users, nucleus, client_for):
    add_tagged_images(project, users["owner"], nucleus, [True, False])
    config = {**TINY_RUN, **TAGS, "tag_class": nucleus.pk, "weight_classes": False}
    response = start(client_for("manager"), project, config)
    assert response.status_code == 201, response.content
    assert TrainingRun.objects.get().config["train"]["weight_classes"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "boxes"}, 'strategy must be "labels"'),
        ({"strategy": "tags"}, "tag_class must be the id of a class"),
        ({"strategy": "tags", "tag_class": 10**6}, "tag_class must be the id of a class"),
        ({"strategy": "tags", "tag_class": "nucleus"}, "tag_class must be the id of a class"),
        ({"tag_class": "NUCLEUS"}, 'only apply to the strategy "tags"'),
        ({"strategy": "tags", "tag_class": "NUCLEUS", "tile": 100}, "multiple of 8"),
        ({"strategy": "tags", "tag_class": "NUCLEUS", "tile": 4096}, "tile must be a whole number"),
        (
            {"strategy": "tags", "tag_class": "NUCLEUS", "cam_low": 0.6, "cam_high": 0.4},
            "cam_low must be below",
        ),
        ({"strategy": "tags", "tag_class": "NUCLEUS", "cam_high": 1.5}, "cam_high must be a number"),
        ({"strategy": "tags", "tag_class": "NUCLEUS", "background_class": "NUCLEUS"}, "must differ"),
        ({"strategy": "tags", "tag_class": "NUCLEUS", "classifier_steps": 0}, "classifier_steps"),
    ],
)
def test_bad_tag_strategy_options_are_a_400_and_start_nothing(
    project, users, nucleus, client_for, options, message
):
    add_tagged_images(project, users["owner"], nucleus, [True, False])
    options = {key: nucleus.pk if value == "NUCLEUS" else value for key, value in options.items()}
    response = start(client_for("manager"), project, {**TINY_RUN, **options})
    assert response.status_code == 400 and message in str(response.json()), response.json()
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_tags_of_one_kind_only_are_a_400(project, users, nucleus, client_for):
    add_tagged_images(project, users["owner"], nucleus, [True, True])
    response = start(client_for("manager"), project, {**TINY_RUN, **TAGS, "tag_class": nucleus.pk})
    assert response.status_code == 400 and "2 present and 0 absent" in str(response.json())
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_tags_run_freezes_tile_tags_and_needs_some_of_each(project, users, nucleus, client_for):
    image = add_tile_tagged_image(project, users["owner"], nucleus)
    response = start(client_for("manager"), project, {**TINY_RUN, **TAGS, "tag_class": nucleus.pk})
    assert response.status_code == 201, response.content
    strategy = TrainingRun.objects.get().config["strategy"]
    layer = image.annotations.get(kind="tiles")
    assert strategy["tags"] == [] and strategy["tile_tags"] == [[layer.pk, 1]]
    services.annotation_save(
        image=image,
        author=users["owner"],
        kind="tiles",
        base_version=1,
        data={"tiles": [[0, 0, 64, 64, True]]},
        label_class=nucleus,
    )
    refused = start(client_for("manager"), project, {**TINY_RUN, **TAGS, "tag_class": nucleus.pk})
    assert refused.status_code == 400 and "1 present and 0 absent" in str(refused.json())


# End to end on a real worker -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_tags_scribbles_and_pseudo_masks_train_together_on_the_worker(
    worker, project, users, nucleus, client_for
):
    owner, annotator = users["owner"], users["annotator"]
    images = add_tagged_images(project, owner, nucleus, [True, True, False, False])
    # A person scribbled on the first positive image: nucleus in one corner, background in another.
    scribbles = [
        {"class_index": NUCLEUS, "radius": 2, "points": [[3, 3], [12, 3]]},
        {"class_index": BACKGROUND, "radius": 2, "points": [[60, 60], [50, 60]]},
    ]
    services.annotation_save(
        image=images[0], author=annotator, kind="scribble", base_version=0, data={"strokes": scribbles}
    )
    # ...and corrected the second one's score-cam layer of an earlier run: it must be kept.
    painted = services.annotation_save(
        image=images[1],
        author=annotator,
        kind="derived",
        base_version=0,
        data={
            "strokes": [{"class_index": BACKGROUND, "radius": 3, "points": [[5, 5]]}],
            "provenance": {"source": "score-cam"},
        },
    )
    # A model-derived pseudo-mask on an absent-tagged image trains along too.
    model_derived = services.annotation_save(
        image=images[3],
        author=owner,
        kind="derived",
        base_version=0,
        data={"strokes": [], "provenance": {"source": "model"}},
        mask=png_bytes(np.full((64, 64), BACKGROUND, dtype=np.uint8)),
    )
    manager = client_for("manager")

    def ended(events: list[dict[str, Any]]) -> bool:
        return events[-1]["type"] == "run.state" and events[-1]["state"] in FINAL

    async def scenario() -> tuple[Any, list[dict[str, Any]]]:
        socket = socket_for(manager, project.pk)
        connected, _ = await socket.connect()
        assert connected and (await socket.receive_json_from())["type"] == "hello"
        response = await off_the_loop(start, manager, project, {**TINY_RUN, **TAGS, "tag_class": nucleus.pk})
        assert response.status_code == 201, response.content
        events = await events_until(socket, ended, timeout=300)
        await socket.disconnect()
        return response.json(), events

    created, events = asyncio.run(scenario())
    run = TrainingRun.objects.get(pk=created["id"])
    assert run.state == "succeeded", run.error + worker.output()[-3000:]

    # Stage 1 reported its progress: classifier steps, then one Score-CAM event per image.
    stages = [e for e in events if e["type"] == "run.stage"]
    classifier = [e for e in stages if e["stage"] == "classifier"]
    assert classifier and classifier[-1]["done"] == classifier[-1]["total"] == TAGS["classifier_steps"]
    assert [e["done"] for e in stages if e["stage"] == "score-cam"][-1] == 4
    first_progress = next(i for i, e in enumerate(events) if e["type"] == "run.progress")
    assert all(events.index(e) < first_progress for e in stages), "stage 1 ends before stage 2 starts"

    # The pseudo-masks are derived layers with provenance, and the run trained on their versions.
    layers = {a.image_id: a for a in Annotation.objects.filter(kind="derived", key="score-cam")}
    for image in (images[0], images[2], images[3]):
        revision = layers[image.pk].revisions.order_by("-version").first()
        assert revision.data["provenance"] == {
            "source": "score-cam",
            "run": run.pk,
            "tag_class": nucleus.pk,
            "thresholds": {"low": CAM_LOW, "high": CAM_HIGH},
            "tile": 64,
        }
    for absent in (images[2], images[3]):
        assert (label_map_at(layers[absent.pk]) == BACKGROUND).all()
    assert set(np.unique(label_map_at(layers[images[0].pk]))) <= {0, BACKGROUND, NUCLEUS}
    painted.refresh_from_db()
    assert painted.version == 1 and painted.updated_by == annotator, "a person's correction is kept"
    snapshot = {pk: version for pk, version in run.label_snapshot}
    assert {pk: snapshot.get(pk) for pk in (a.pk for a in layers.values())} == {
        a.pk: a.version for a in layers.values()
    }
    assert snapshot[model_derived.pk] == 1

    # Scribbles win over the pseudo-mask where they exist (model ids: 0 background, 1 nucleus).
    data = load_run_data(run.label_snapshot, RunSpec.from_json(run.config))
    first = data.train[data.train_images.index(images[0])]
    scribbled = label_map_at(images[0].annotations.get(kind="scribble"))
    assert (scribbled == NUCLEUS).sum() > 10 and (scribbled == BACKGROUND).sum() > 10
    assert (first.target[scribbled == NUCLEUS] == 1).all()
    assert (first.target[scribbled == BACKGROUND] == 0).all()
    assert (first.weight[scribbled > 0] == 1.0).all()
    pseudo_only = (first.target >= 0) & (scribbled == 0)
    assert pseudo_only.any(), "elsewhere the pseudo-mask fills in"
    assert (first.weight[pseudo_only] < 1.0).all(), "at the run's lower derived weight"


@pytest.mark.django_db(transaction=True)
def test_tile_tags_alone_train_the_classifier_and_shape_the_pseudo_mask(
    worker, project, users, nucleus, client_for
):
    image = add_tile_tagged_image(project, users["owner"], nucleus)
    response = start(client_for("manager"), project, {**TINY_RUN, **TAGS, "tag_class": nucleus.pk})
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    wait_until(
        lambda: run.refresh_from_db() or run.state in FINAL, timeout=600, what="the run", worker=worker
    )
    # Without the tiles the classifier would have no sample at all, and the run would fail.
    assert run.state == "succeeded", run.error + worker.output()[-3000:]
    stages = run.metrics.filter(kind="stage").values_list("values", flat=True)
    assert any(d["stage"] == "classifier" and d["done"] == TAGS["classifier_steps"] for d in stages)
    layer = image.annotations.get(kind="derived", key="score-cam")
    target = label_map_at(layer)
    assert (target[:64, 64:] == BACKGROUND).all(), "the tile tagged absent is background"
    assert (target[64:, 64:] == 0).all(), "the untagged tile is unknown"
    assert set(np.unique(target[:, :64])) <= {0, BACKGROUND, NUCLEUS}
    assert [layer.pk, layer.version] in run.label_snapshot
    # The version records the stage's times and sizes, and a tags run's estimate scales them.
    stage = run.model_version.metrics["tag_stage"]
    assert stage["classifier_megapixels"] == pytest.approx(TAGS["classifier_steps"] * 32 * 64**2 / 1e6)
    assert stage["mapped_megapixels"] == pytest.approx(128 * 128 / 1e6)
    assert stage["classifier_seconds"] > 0 and stage["maps_seconds"] > 0
    doubled = {"strategy": "tags", "tag_class": nucleus.pk, "tile": 64, "classifier_steps": 60}
    answer = client_for("viewer").get(f"/api/projects/{project.pk}/run-estimate/", doubled).json()
    assert answer["tag_stage_runs"] == 1
    expected = 2 * stage["classifier_seconds"] + stage["maps_seconds"]
    assert answer["tag_stage_seconds"] == pytest.approx(expected, abs=0.05)
