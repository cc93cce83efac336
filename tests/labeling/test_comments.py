"""Comments on images: a viewer reads them, an annotator writes and resolves them, a stranger gets
404; threads, points inside the image, the length limit, the project's list and the live events."""

from __future__ import annotations

from typing import Any

import pytest

from labeling import services
from tests.factories import field_png
from webapp import live

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(project, users):
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("field-03.png", field_png(3, 32))]
    )
    return image


def post(client, image, **body: Any) -> Any:
    return client.post(f"/api/images/{image.pk}/comments/", body, format="json")


def test_a_viewer_reads_an_annotator_writes_and_a_stranger_gets_404(image, client_for):
    annotator, viewer, stranger = client_for("annotator"), client_for("viewer"), client_for("stranger")
    created = post(annotator, image, body="Is this a nucleus?", x=10.5, y=20)
    assert created.status_code == 201
    thread = created.json()
    assert (thread["author"], thread["body"], thread["x"], thread["y"]) == (
        "annotator",
        "Is this a nucleus?",
        10.5,
        20.0,
    )
    assert thread["resolved"] is False and thread["replies"] == [] and thread["image_name"] == "field-03"
    assert viewer.get(f"/api/images/{image.pk}/comments/").json() == [thread]
    refused = post(viewer, image, body="I think so")
    assert refused.status_code == 403
    assert (
        refused.json()["detail"] == "This needs the annotator role or higher; you are viewer in this project."
    )
    assert viewer.post(f"/api/comments/{thread['id']}/resolve/", {}, format="json").status_code == 403
    assert stranger.get(f"/api/images/{image.pk}/comments/").status_code == 404
    assert post(stranger, image, body="hello").status_code == 404
    assert stranger.post(f"/api/comments/{thread['id']}/resolve/", {}, format="json").status_code == 404
    assert stranger.get(f"/api/projects/{image.project_id}/comments/").status_code == 404


def test_replies_make_a_thread_and_resolving_closes_it_until_someone_replies(image, client_for):
    annotator, manager = client_for("annotator"), client_for("manager")
    first = post(annotator, image, body="Is this a nucleus?", x=4, y=4).json()
    reply = post(manager, image, body="Yes, a dividing one.", reply_to=first["id"]).json()
    assert reply["id"] == first["id"] and [r["body"] for r in reply["replies"]] == ["Yes, a dividing one."]
    # A reply to a reply joins the same thread.
    again = post(annotator, image, body="Thanks!", reply_to=reply["replies"][0]["id"]).json()
    assert [r["author"] for r in again["replies"]] == ["manager", "annotator"]
    resolved = annotator.post(f"/api/comments/{first['id']}/resolve/", {}, format="json").json()
    assert resolved["resolved"] is True and resolved["resolved_by"] == "annotator"
    open_threads = manager.get(f"/api/projects/{image.project_id}/comments/?resolved=false").json()
    assert open_threads["count"] == 0
    post(manager, image, body="One more thing.", reply_to=first["id"])
    assert manager.get(f"/api/projects/{image.project_id}/comments/?resolved=false").json()["count"] == 1
    reopened = manager.post(
        f"/api/comments/{first['id']}/resolve/", {"resolved": False}, format="json"
    ).json()
    assert reopened["resolved"] is False


def test_the_project_lists_every_thread_newest_first(project, image, users, client_for):
    (other,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("field-04.png", field_png(4, 32))]
    )
    annotator = client_for("annotator")
    post(annotator, image, body="Whole image: out of focus.")
    post(annotator, other, body="Debris here", x=1, y=2)
    rows = client_for("viewer").get(f"/api/projects/{project.pk}/comments/").json()["results"]
    assert [(row["image_name"], row["body"], row["x"]) for row in rows] == [
        ("field-04", "Debris here", 1.0),
        ("field-03", "Whole image: out of focus.", None),
    ]


def test_a_comment_that_cannot_be_stored_says_why(image, client_for, settings):
    annotator = client_for("annotator")
    assert post(annotator, image, body="   ").json() == {"body": ["This field may not be blank."]}
    outside = post(annotator, image, body="here", x=40, y=3)
    assert (
        outside.status_code == 400
        and outside.json()["detail"] == "The point (40, 3) lies outside the image (32x32)."
    )
    half = post(annotator, image, body="here", x=3)
    assert half.json()["detail"] == "Pin a comment with both x and y, or with neither for the whole image."
    settings.TEAM_COMMENT_MAX_CHARS = 10
    long = post(annotator, image, body="x" * 11)
    assert long.json()["detail"] == (
        "A comment is at most 10 characters (TEAM_COMMENT_MAX_CHARS); this one has 11."
    )
    assert post(annotator, image, body="hi", reply_to=999999).json()["detail"] == (
        "reply_to must be a comment on this image."
    )


def test_comments_are_announced_live_to_the_project(
    image, users, client_for, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[Any] = []
    monkeypatch.setattr(
        live, "publish", lambda project_id, event, **kwargs: sent.append((project_id, event.to_json()))
    )
    with django_capture_on_commit_callbacks(execute=True):
        thread = post(client_for("annotator"), image, body="Is this a nucleus?", x=5, y=6).json()
        client_for("manager").post(f"/api/comments/{thread['id']}/resolve/", {}, format="json")
    assert sent == [
        (
            image.project_id,
            {
                "type": "comment.added",
                "comment": thread["id"],
                "thread": thread["id"],
                "image": image.pk,
                "image_name": "field-03",
                "author": "annotator",
                "body": "Is this a nucleus?",
                "x": 5.0,
                "y": 6.0,
            },
        ),
        (
            image.project_id,
            {
                "type": "comment.resolved",
                "comment": thread["id"],
                "image": image.pk,
                "resolved": True,
                "by": "manager",
            },
        ),
    ]
