"""Assignments: managers give a selection of images to a member, or share the images nobody has
labelled or taken evenly among annotators; "My images" and the status filter of the image list;
a member who leaves (or becomes a viewer) gives their images back."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from labeling import services
from labeling.models import ImageWork, Role
from tests.factories import field_png
from webapp import live

pytestmark = pytest.mark.django_db

STROKE = {"strokes": [{"class_index": 2, "radius": 2, "points": [[4, 4], [12, 4]]}]}


def add_images(project, uploader, count: int, first: int = 1) -> list[Any]:
    return [
        services.image_ingest(
            project=project,
            uploader=uploader,
            uploads=[services.Upload(f"field-{k:02d}.png", field_png(k, 32))],
        )[0]
        for k in range(first, first + count)
    ]


@pytest.fixture
def images(project, users) -> list[Any]:
    return add_images(project, users["owner"], 5)


@pytest.fixture
def colleague(project, users) -> Any:
    user = get_user_model().objects.create_user(username="colleague", password="colleague-password")
    services.membership_set(project=project, user=user, role=Role.ANNOTATOR)
    users["colleague"] = user
    return user


def assign(client, project, ids: list[int], assignee: str | None) -> Any:
    return client.post(
        f"/api/projects/{project.pk}/assignments/", {"images": ids, "assignee": assignee}, format="json"
    )


def listed(client, project, query: str = "") -> list[str]:
    response = client.get(f"/api/projects/{project.pk}/images/{query}")
    assert response.status_code == 200, response.content
    return [image["name"] for image in response.json()["results"]]


def test_a_manager_assigns_a_selection_and_the_grid_shows_who_has_what(project, images, client_for):
    manager = client_for("manager")
    response = assign(manager, project, [images[2].pk, images[0].pk], "annotator")
    assert response.status_code == 200
    assert response.json() == {"images": [images[0].pk, images[2].pk], "assignee": "annotator"}
    rows = client_for("viewer").get(f"/api/projects/{project.pk}/images/").json()["results"]
    assert {row["name"]: row["assignee"] for row in rows} == {
        "field-01": "annotator",
        "field-02": None,
        "field-03": "annotator",
        "field-04": None,
        "field-05": None,
    }
    assert {row["status"] for row in rows} == {"todo"}
    assert assign(manager, project, [images[0].pk], None).json()["assignee"] is None
    assert ImageWork.objects.get(image=images[0]).assignee is None


def test_my_images_and_the_status_filter(project, images, users, client_for):
    services.images_assign(
        project=project,
        image_ids=[images[1].pk, images[3].pk],
        assignee=users["annotator"],
        by=users["manager"],
    )
    services.annotation_save(
        image=images[3], author=users["annotator"], kind="scribble", base_version=0, data=STROKE
    )
    annotator = client_for("annotator")
    assert listed(annotator, project, "?assignee=me") == ["field-02", "field-04"]
    assert listed(annotator, project, "?assignee=me&status=in_progress") == ["field-04"]
    assert listed(annotator, project, "?assignee=me&status=todo") == ["field-02"]
    assert listed(annotator, project, "?assignee=none") == ["field-01", "field-03", "field-05"]
    assert listed(annotator, project, "?assignee=annotator&status=todo") == ["field-02"]
    assert listed(annotator, project, "?status=todo") == ["field-01", "field-02", "field-03", "field-05"]
    assert listed(client_for("manager"), project, "?assignee=me") == []
    bad = annotator.get(f"/api/projects/{project.pk}/images/?status=done")
    assert bad.status_code == 400 and "status must be one of todo" in bad.json()["detail"]


@pytest.mark.parametrize(
    ("who", "status", "message"),
    [
        ("annotator", 403, "This needs the manager role or higher; you are annotator in this project."),
        ("viewer", 403, "This needs the manager role or higher; you are viewer in this project."),
        ("stranger", 404, "No such project."),
    ],
)
def test_only_managers_assign(who, status, message, project, images, client_for):
    response = assign(client_for(who), project, [images[0].pk], "annotator")
    assert (response.status_code, response.json()["detail"]) == (status, message)


def test_an_assignment_that_cannot_be_made_says_why(project, images, users, client_for, settings):
    manager = client_for("manager")
    refused = assign(manager, project, [images[0].pk], "viewer")
    assert refused.status_code == 400
    assert (
        refused.json()["detail"]
        == "viewer is a viewer: only annotators, managers and owners can be assigned images."
    )
    # A name nobody has gets the non-member's answer: assigning does not tell which names exist.
    assert assign(manager, project, [images[0].pk], "stranger").json() == {
        "assignee": ["stranger is not a member of this project; invite them first."]
    }
    assert assign(manager, project, [images[0].pk], "nobody-at-all").json() == {
        "assignee": ["nobody-at-all is not a member of this project; invite them first."]
    }
    other = services.project_create(name="Other", owner=users["stranger"])
    elsewhere = add_images(other, users["stranger"], 1)[0]
    assert assign(manager, project, [images[0].pk, elsewhere.pk], "annotator").json()["detail"] == (
        f"Not images of this project: {elsewhere.pk}."
    )
    settings.TEAM_ASSIGN_MAX_IMAGES = 2
    too_many = assign(manager, project, [image.pk for image in images[:3]], "annotator")
    assert too_many.json()["detail"] == (
        "Assign at most 2 images at once (TEAM_ASSIGN_MAX_IMAGES); this asks for 3."
    )
    assert not ImageWork.objects.filter(assignee__isnull=False).exists()


def test_sharing_deals_the_unclaimed_images_evenly_in_name_order(
    project, images, users, colleague, client_for
):
    # field-01 has labels and field-02 is taken already: neither is shared.
    services.annotation_save(
        image=images[0], author=users["manager"], kind="scribble", base_version=0, data=STROKE
    )
    services.images_assign(
        project=project, image_ids=[images[1].pk], assignee=users["manager"], by=users["manager"]
    )
    extra = add_images(project, users["owner"], 2, first=6)  # field-06, field-07
    response = client_for("manager").post(
        f"/api/projects/{project.pk}/assignments/share/",
        {"annotators": ["annotator", "colleague"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    ids = {image.pk: image.name for image in [*images, *extra]}
    shares = {user: [ids[pk] for pk in pks] for user, pks in response.json()["shares"].items()}
    assert shares == {
        "annotator": ["field-03", "field-05", "field-07"],
        "colleague": ["field-04", "field-06"],
    }


def test_sharing_only_n_images_and_nothing_left_to_share(project, images, colleague, client_for):
    manager = client_for("manager")
    url = f"/api/projects/{project.pk}/assignments/share/"
    first = manager.post(url, {"annotators": ["annotator", "colleague"], "count": 3}, format="json").json()
    assert [len(first["shares"][name]) for name in ("annotator", "colleague")] == [2, 1]
    rest = manager.post(url, {"annotators": ["colleague"]}, format="json").json()
    assert len(rest["shares"]["colleague"]) == 2
    empty = manager.post(url, {"annotators": ["annotator"]}, format="json")
    assert empty.status_code == 400
    assert (
        empty.json()["detail"]
        == "Every image has labels or an assignee already: there is nothing left to share."
    )
    assert manager.post(url, {"annotators": ["viewer"]}, format="json").status_code == 400


def test_a_member_who_leaves_or_becomes_a_viewer_gives_their_images_back(project, images, users, colleague):
    services.images_assign(
        project=project, image_ids=[images[0].pk], assignee=users["annotator"], by=users["manager"]
    )
    services.images_assign(project=project, image_ids=[images[1].pk], assignee=colleague, by=users["manager"])
    services.membership_set(project=project, user=users["annotator"], role=Role.VIEWER, by=users["owner"])
    services.membership_remove(membership=project.memberships.get(user=colleague), by=users["owner"])
    assert not ImageWork.objects.filter(assignee__isnull=False).exists()


def test_assignments_are_announced_live(
    project, images, users, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[Any] = []
    monkeypatch.setattr(live, "publish", lambda project_id, event, **kwargs: sent.append(event.to_json()))
    with django_capture_on_commit_callbacks(execute=True):
        services.images_assign(
            project=project,
            image_ids=[images[0].pk, images[1].pk],
            assignee=users["annotator"],
            by=users["manager"],
        )
    assert sent == [
        {
            "type": "images.assigned",
            "images": [images[0].pk, images[1].pk],
            "assignee": "annotator",
            "by": "manager",
        }
    ]
