"""Training on approved labels only (run option label_approval: "approved"): the snapshot freezes
exactly the approved images' human layers at the versions their approval froze, their derived
layers, and the validation masks; the run's config records which labels it learnt from."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import services
from labeling.errors import InvalidInput
from labeling.models import Split
from labeling.selectors import label_map_at
from tests.factories import field_png, png_bytes
from training.ml.data import UNKNOWN
from training.runs import create
from training.runs.snapshot import load_run_data
from training.runs.spec import RunSpec

pytestmark = pytest.mark.django_db

SIZE = 32
RUN = {"steps": 10, "steps_per_epoch": 5, "patch_size": 32, "batch_size": 2}


def stroke(row: int, value: int = 2) -> dict:
    return {"strokes": [{"class_index": value, "radius": 1, "points": [[2, row], [20, row]]}]}


def add(project, owner, name: str, split: str | None = None):
    (image,) = services.image_ingest(
        project=project,
        uploader=owner,
        uploads=[services.Upload(f"{name}.png", field_png(len(name), SIZE))],
        name=name,
    )
    return services.image_update(image=image, split=split) if split else image


def move(image, user, name: str, **kwargs) -> None:
    services.image_move(image=image, user=user, move=name, **kwargs)


@pytest.fixture
def plate(project, users):
    """approved: approved at scribble v1, then touched up by a manager (v2, not approved);
    submitted: submitted, not approved; working: in progress; check: a validation image."""
    annotator, manager = users["annotator"], users["manager"]
    approved, submitted, working = (
        add(project, users["owner"], n) for n in ("approved", "submitted", "working")
    )
    check = add(project, users["owner"], "check", Split.VALIDATION)
    layer = services.annotation_save(
        image=approved, author=annotator, kind="scribble", base_version=0, data=stroke(4)
    )
    move(approved, annotator, "submit")
    move(approved, manager, "approve")
    services.annotation_save(image=approved, author=manager, kind="scribble", base_version=1, data=stroke(20))
    services.annotation_save(
        image=submitted, author=annotator, kind="scribble", base_version=0, data=stroke(8)
    )
    move(submitted, annotator, "submit")
    services.annotation_save(
        image=working, author=annotator, kind="dense", base_version=0, data=stroke(10, 1)
    )
    truth = np.ones((SIZE, SIZE), np.uint8)
    services.annotation_save(
        image=check, author=manager, kind="dense", base_version=0, data={}, mask=png_bytes(truth)
    )
    derived = {
        image.name: services.derived_layer_save(
            image=image,
            author=manager,
            head=None,
            provenance={"source": "fluorescence-teacher"},
            mask=np.full((SIZE, SIZE), 1, np.uint8),
        )
        for image in (approved, submitted)
    }
    return {"approved": approved, "check": check, "layer": layer, "derived": derived}


def test_an_approved_only_run_freezes_exactly_the_approved_labels(project, users, plate):
    run = create.run_create(
        project=project, user=users["manager"], options={**RUN, "label_approval": "approved"}
    )
    check_mask = plate["check"].annotations.get(kind="dense")
    assert sorted(map(tuple, run.label_snapshot)) == sorted(
        [(plate["layer"].pk, 1), (plate["derived"]["approved"].pk, 1), (check_mask.pk, 1)]
    )
    assert run.config["label_approval"] == "approved"
    assert RunSpec.from_json(run.config).label_approval == "approved"
    # The samples hold the approved version's stroke (row 4), not the manager's later one (row 20).
    data = load_run_data(run.label_snapshot, RunSpec.from_json(run.config))
    assert [image.name for image in data.train_images] == ["approved"]
    (sample,) = data.train
    approved_map = label_map_at(plate["layer"], 1)
    nucleus = np.asarray(sample.target) == 1  # model class 1 is class index 2
    assert nucleus[4, 2:21].all() and not nucleus[20].any()
    assert (approved_map[20] == 0).all() and (label_map_at(plate["layer"], 2)[20, 2:21] == 2).all()
    assert (
        np.asarray(sample.target)[label_map_at(plate["layer"], 1) == 0] != UNKNOWN
    ).all()  # derived fills the rest


def test_by_default_a_run_learns_from_every_human_label_as_today(project, users, plate):
    run = create.run_create(project=project, user=users["manager"], options=RUN)
    assert run.config["label_approval"] == "all"
    assert (plate["layer"].pk, 2) in set(map(tuple, run.label_snapshot))
    assert len(run.label_snapshot) == 6  # 3 human layers, 2 derived, 1 validation mask


def test_approved_only_with_nothing_approved_says_so(project, users):
    image = add(project, users["owner"], "lonely")
    services.annotation_save(
        image=image, author=users["annotator"], kind="scribble", base_version=0, data=stroke(3)
    )
    with pytest.raises(InvalidInput, match="Nothing to train on: no approved image of this project has"):
        create.run_create(
            project=project, user=users["manager"], options={**RUN, "label_approval": "approved"}
        )
    with pytest.raises(InvalidInput, match='label_approval must be "all"'):
        create.run_create(project=project, user=users["manager"], options={**RUN, "label_approval": "yes"})


def test_a_run_on_approved_labels_through_the_api(project, users, plate, client_for):
    response = client_for("manager").post(
        f"/api/projects/{project.pk}/runs/", {"config": {**RUN, "label_approval": "approved"}}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["config"]["label_approval"] == "approved"


def test_a_tags_run_on_approved_labels_uses_only_the_approved_images_tags(project, users, nucleus):
    annotator, manager = users["annotator"], users["manager"]
    tags = {}
    for name, present, approve in (("t-yes", True, True), ("t-no", False, True), ("t-pending", True, False)):
        image = add(project, users["owner"], name)
        tags[name] = services.annotation_save(
            image=image,
            author=annotator,
            kind="tag",
            label_class=nucleus,
            base_version=0,
            data={"present": present},
        )
        move(image, annotator, "submit")
        if approve:
            move(image, manager, "approve")
    options = {**RUN, "strategy": "tags", "tag_class": nucleus.pk, "label_approval": "approved"}
    run = create.run_create(project=project, user=manager, options=options)
    assert sorted(map(tuple, run.config["strategy"]["tags"])) == sorted(
        [(tags["t-yes"].pk, 1), (tags["t-no"].pk, 1)]
    )
