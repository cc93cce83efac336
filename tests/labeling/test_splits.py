"""The train / validation split: a selection set at once, or N images held out at random with a seed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labeling import labelmaps, services
from labeling.models import Image, Split
from tests.factories import field_png, ome_tiff_bytes
from webapp import live

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(project, users) -> list[Image]:
    uploads = [services.Upload(f"field-{n:02d}.png", field_png(seed=n, size=16)) for n in range(8)]
    return services.image_ingest(project=project, uploader=users["owner"], uploads=uploads)


def splits(project) -> dict[str, str]:
    return dict(Image.objects.filter(project=project).values_list("name", "split"))


def test_a_manager_sets_the_split_of_a_selection(client_for, project, images):
    chosen = [images[1].pk, images[4].pk]
    response = client_for("manager").post(
        f"/api/projects/{project.pk}/images/split/", {"images": chosen, "split": "validation"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"split": "validation", "images": sorted(chosen)}
    assert [name for name, split in splits(project).items() if split == "validation"] == [
        "field-01",
        "field-04",
    ]


def test_a_selection_with_an_image_of_another_project_changes_nothing(client_for, project, images, users):
    elsewhere = services.project_create(name="Other", owner=users["manager"])
    (other,) = services.image_ingest(
        project=elsewhere, uploader=users["manager"], uploads=[services.Upload("x.png", field_png(size=16))]
    )
    response = client_for("manager").post(
        f"/api/projects/{project.pk}/images/split/",
        {"images": [images[0].pk, other.pk], "split": "train"},
        format="json",
    )
    assert response.status_code == 400
    assert str(other.pk) in response.json()["detail"]
    assert set(splits(project).values()) == {"unassigned"}


def test_an_annotator_may_not_set_the_split(client_for, project, images):
    response = client_for("annotator").post(
        f"/api/projects/{project.pk}/images/split/",
        {"images": [images[0].pk], "split": "train"},
        format="json",
    )
    assert response.status_code == 403


def hold_out(client, project, **body):
    return client.post(f"/api/projects/{project.pk}/images/hold-out/", body, format="json")


def test_holding_out_n_images_is_reproducible_with_the_same_seed(client_for, project, images):
    manager = client_for("manager")
    first = hold_out(manager, project, count=3, seed=7)
    assert first.status_code == 200, first.content
    body = first.json()
    assert (len(body["validation"]), body["train"], body["seed"]) == (3, 5, 7)
    assert (
        sorted(pk for pk, split in Image.objects.values_list("pk", "split") if split == Split.VALIDATION)
        == (body["validation"])
    )
    services.image_split_set(project=project, image_ids=[i.pk for i in images], split=Split.UNASSIGNED)
    assert hold_out(manager, project, count=3, seed=7).json() == body
    others = {tuple(hold_out(manager, project, count=3, seed=seed).json()["validation"]) for seed in range(8)}
    assert len(others) > 1  # other seeds choose other images


def test_a_stack_is_held_out_whole(client_for, project, images, users):
    stack = np.random.default_rng(0).integers(0, 255, size=(4, 16, 16), dtype=np.uint8)
    services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[services.Upload("deep.ome.tif", ome_tiff_bytes(stack, axes="ZYX"))],
    )
    manager = client_for("manager")
    for seed in range(6):
        hold_out(manager, project, count=2, seed=seed)
        planes = {split for name, split in splits(project).items() if name.startswith("deep z")}
        assert len(planes) == 1  # all four planes in the same split


def test_hold_out_can_choose_only_among_images_with_dense_masks(client_for, project, images, users):
    mask = labelmaps.encode_map(np.ones((16, 16), np.uint16))
    for image in images[2:5]:
        services.annotation_save(
            image=image, author=users["owner"], kind="dense", base_version=0, data={}, mask=mask
        )
    body = hold_out(client_for("manager"), project, count=2, seed=1, with_dense_masks=True).json()
    assert set(body["validation"]) <= {image.pk for image in images[2:5]}
    refused = hold_out(client_for("manager"), project, count=4, with_dense_masks=True)
    assert refused.status_code == 400
    assert "1 to 3 images with dense masks" in refused.json()["detail"]


@pytest.fixture
def announced(monkeypatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(live, "publish", lambda project_id, event, **kwargs: sent.append(event.to_json()))
    return sent


def test_a_split_set_is_announced_live_once_committed(
    project, images, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.image_split_set(project=project, image_ids=[images[3].pk, images[1].pk], split="train")
        assert announced == []  # nothing goes out before the commit
    assert announced == [{"type": "images.split", "images": [images[1].pk, images[3].pk], "split": "train"}]


def test_a_hold_out_announces_both_the_validation_and_the_training_images(
    project, images, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        held = services.image_split_hold_out(project=project, count=2, seed=3)
    by_split = {event["split"]: event["images"] for event in announced}
    assert by_split["validation"] == held.validation
    assert sorted(by_split["train"] + by_split["validation"]) == sorted(image.pk for image in images)
    assert held.train == len(by_split["train"]) == 6
