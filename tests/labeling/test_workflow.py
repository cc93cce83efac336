"""The review state machine of an image (labeling/workflow.py), through the API: every move from
every status by every role, allowed or refused with its message; and what a label save does.

    to do -> in progress (first stroke) -> submitted -> approved
                    ^                          |  \\-> changes requested (with a comment) <- approved
                    +------- withdraw ---------+            | first stroke -> in progress

The image "field-07" is assigned to `annotator`, who submitted it whenever it is submitted;
`colleague` is a second annotator of the project.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from labeling import services
from labeling.models import ImageWork, Role, StatusChange
from tests.factories import field_png
from webapp import live

pytestmark = pytest.mark.django_db

NAME = "field-07"
STATUSES = ["todo", "in_progress", "submitted", "changes_requested", "approved"]
MOVES = ["submit", "withdraw", "approve", "request_changes"]
ACTORS = ["owner", "manager", "annotator", "colleague", "viewer"]

# (move, status) -> (who may, where it leads)
ALLOWED = {
    ("submit", "in_progress"): ({"owner", "manager", "annotator"}, "submitted"),
    ("withdraw", "submitted"): ({"owner", "manager", "annotator"}, "in_progress"),
    ("approve", "submitted"): ({"owner", "manager"}, "approved"),
    ("request_changes", "submitted"): ({"owner", "manager"}, "changes_requested"),
    ("request_changes", "approved"): ({"owner", "manager"}, "changes_requested"),
}

VERBS = {
    "submit": "submit images",
    "withdraw": "withdraw images",
    "approve": "approve images",
    "request_changes": "request changes",
}
# What a refused move says, by who is refused (403) ...
ROLE_REFUSALS = {
    "viewer": "You are a viewer in this project: viewers look at images, they do not {verb}.",
    "annotator-manager-move": (
        "Only managers and owners {verb}; you are annotator in this project. "
        "Submit the image for review instead."
    ),
    "colleague-submit": f"{NAME} is assigned to annotator: only annotator or a manager can submit it.",
    "colleague-withdraw": f"Only annotator (who submitted {NAME}) or a manager can withdraw it.",
}
# ... and by the status the image is in (409).
STATUS_REFUSALS = {
    ("submit", "todo"): f"{NAME} is to do: label it before submitting it.",
    ("submit", "submitted"): f"{NAME} is submitted already; a manager reviews it now.",
    ("submit", "approved"): f"{NAME} is approved already; a manager can send it back if it needs changes.",
    ("submit", "changes_requested"): (
        f"Changes were requested on {NAME}: change its labels before submitting it again."
    ),
    ("withdraw", "todo"): f"{NAME} is to do, not submitted: only a submitted image can be withdrawn.",
    (
        "withdraw",
        "in_progress",
    ): f"{NAME} is in progress, not submitted: only a submitted image can be withdrawn.",
    ("withdraw", "changes_requested"): (
        f"{NAME} is sent back for changes, not submitted: only a submitted image can be withdrawn."
    ),
    ("withdraw", "approved"): f"{NAME} is approved, not submitted: only a submitted image can be withdrawn.",
    ("approve", "todo"): f"{NAME} is to do, not submitted: only a submitted image can be approved.",
    (
        "approve",
        "in_progress",
    ): f"{NAME} is in progress, not submitted: only a submitted image can be approved.",
    ("approve", "changes_requested"): (
        f"{NAME} is sent back for changes, not submitted: only a submitted image can be approved."
    ),
    ("approve", "approved"): f"{NAME} is approved, not submitted: only a submitted image can be approved.",
    (
        "request_changes",
        "todo",
    ): f"{NAME} is to do: changes can be requested on submitted or approved images only.",
    ("request_changes", "in_progress"): (
        f"{NAME} is in progress: changes can be requested on submitted or approved images only."
    ),
    ("request_changes", "changes_requested"): (
        f"{NAME} is sent back for changes: changes can be requested on submitted or approved images only."
    ),
}


def expected_refusal(move: str, status: str, actor: str) -> tuple[int, str] | None:
    """The status code and message of a refused move, or None when it is allowed."""
    if actor == "viewer":
        return 403, ROLE_REFUSALS["viewer"].format(verb=VERBS[move])
    if actor in ("annotator", "colleague") and move in ("approve", "request_changes"):
        return 403, ROLE_REFUSALS["annotator-manager-move"].format(verb=VERBS[move])
    if actor == "colleague":
        return 403, ROLE_REFUSALS[f"colleague-{move}"]
    if (move, status) in ALLOWED:
        return None
    return 409, STATUS_REFUSALS[(move, status)]


@pytest.fixture
def colleague(project) -> Any:
    user = get_user_model().objects.create_user(username="colleague", password="colleague-password")
    services.membership_set(project=project, user=user, role=Role.ANNOTATOR)
    return user


@pytest.fixture
def image(project, users):
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload(f"{NAME}.png", field_png(7, 32))]
    )
    return image


def put(image, status: str, users) -> None:
    """The image in `status`, assigned to annotator (who submitted it, when it is submitted)."""
    ImageWork.objects.update_or_create(
        image=image, defaults={"status": status, "assignee": users["annotator"]}
    )
    if status == "submitted":
        StatusChange.objects.create(
            image=image, action="submit", previous="in_progress", status="submitted", by=users["annotator"]
        )


def client_of(actor: str, client_for, users, colleague) -> Any:
    if actor == "colleague":
        users["colleague"] = colleague
    return client_for(actor)


def test_the_matrix_covers_every_refusal_it_expects():
    for move in MOVES:
        for status in STATUSES:
            for actor in ACTORS:
                refusal = expected_refusal(move, status, actor)
                allowed = ALLOWED.get((move, status), (set(), ""))[0]
                assert (refusal is None) == (actor in allowed), (move, status, actor)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("move", MOVES)
def test_every_move_from_every_status_by_every_role(move, status, actor, image, users, client_for, colleague):
    put(image, status, users)
    client = client_of(actor, client_for, users, colleague)
    body = {"move": move, "comment": "The left nucleus is missing." if move == "request_changes" else ""}
    response = client.post(f"/api/images/{image.pk}/status/", body, format="json")
    refusal = expected_refusal(move, status, actor)
    work = ImageWork.objects.get(image=image)
    if refusal is None:
        assert response.status_code == 200, response.content
        target = ALLOWED[(move, status)][1]
        assert response.json()["status"] == target == work.status
        change = StatusChange.objects.filter(image=image).last()
        assert (change.action, change.previous, change.status, change.by.username) == (
            move,
            status,
            target,
            actor,
        )
        assert response.json()["history"][-1]["move"] == move
    else:
        code, message = refusal
        assert (response.status_code, response.json()["detail"]) == (code, message)
        assert work.status == status  # nothing moved


def test_a_stranger_cannot_see_an_images_status_or_move_it(image, users, client_for):
    put(image, "submitted", users)
    stranger = client_for("stranger")
    assert stranger.get(f"/api/images/{image.pk}/status/").status_code == 404
    assert (
        stranger.post(f"/api/images/{image.pk}/status/", {"move": "approve"}, format="json").status_code
        == 404
    )


def test_requesting_changes_needs_a_comment_which_is_pinned_where_asked(image, users, client_for):
    put(image, "submitted", users)
    manager = client_for("manager")
    missing = manager.post(f"/api/images/{image.pk}/status/", {"move": "request_changes"}, format="json")
    assert missing.status_code == 400
    assert (
        missing.json()["detail"]
        == "Say what to change: requesting changes needs a comment for the annotator."
    )
    sent = manager.post(
        f"/api/images/{image.pk}/status/",
        {"move": "request_changes", "comment": "Is this a nucleus?", "x": 10, "y": 12},
        format="json",
    )
    assert sent.status_code == 200
    assert sent.json()["history"][-1]["note"] == "Is this a nucleus?"
    (thread,) = client_for("annotator").get(f"/api/images/{image.pk}/comments/").json()
    assert (thread["body"], thread["x"], thread["y"], thread["author"]) == (
        "Is this a nucleus?",
        10.0,
        12.0,
        "manager",
    )


def test_an_unknown_move_is_refused_with_the_moves_there_are(image, client_for):
    response = client_for("manager").post(f"/api/images/{image.pk}/status/", {"move": "start"}, format="json")
    assert response.status_code == 400
    assert "move" in response.json()


def scribble(client, image, version: int = 0) -> Any:
    stroke = {"class_index": 2, "radius": 2, "points": [[4, 4], [12, 4]]}
    return client.post(
        f"/api/images/{image.pk}/annotations/",
        {"kind": "scribble", "base_version": version, "data": {"strokes": [stroke]}},
        format="json",
    )


def test_the_first_stroke_starts_an_image_and_one_after_changes_were_requested_starts_it_again(
    image, users, client_for
):
    annotator = client_for("annotator")
    assert annotator.get(f"/api/images/{image.pk}/status/").json()["status"] == "todo"
    assert scribble(annotator, image).status_code == 201
    assert ImageWork.objects.get(image=image).status == "in_progress"
    assert scribble(annotator, image, 1).status_code == 201  # in progress stays so
    assert StatusChange.objects.filter(image=image, action="start").count() == 1
    ImageWork.objects.filter(image=image).update(status="changes_requested")
    assert scribble(annotator, image, 2).status_code == 201
    assert ImageWork.objects.get(image=image).status == "in_progress"
    assert [c.previous for c in StatusChange.objects.filter(image=image, action="start")] == [
        "todo",
        "changes_requested",
    ]


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("submitted", "To change them, withdraw it (or ask a manager to send it back)."),
        ("approved", "To change them, ask a manager to send it back."),
    ],
)
def test_an_annotator_cannot_change_labels_under_review_but_a_manager_can(
    status, advice, image, users, client_for
):
    put(image, status, users)
    refused = scribble(client_for("annotator"), image)
    assert refused.status_code == 423
    assert refused.json()["detail"] == f"{NAME} is {status}: its labels stay as reviewed. {advice}"
    assert not image.annotations.exists()
    assert scribble(client_for("manager"), image).status_code == 201
    assert ImageWork.objects.get(image=image).status == status  # a manager's touch-up moves nothing


def test_submitting_an_unassigned_image_makes_it_the_submitters(image, users, client_for):
    annotator = client_for("annotator")
    scribble(annotator, image)
    response = annotator.post(f"/api/images/{image.pk}/status/", {"move": "submit"}, format="json")
    assert response.status_code == 200
    assert response.json()["assignee"] == "annotator"


def test_approval_freezes_the_label_versions_and_sending_back_drops_them(image, users, client_for):
    annotator, manager = client_for("annotator"), client_for("manager")
    layer = scribble(annotator, image).json()
    annotator.post(f"/api/images/{image.pk}/status/", {"move": "submit"}, format="json")
    approved = manager.post(f"/api/images/{image.pk}/status/", {"move": "approve"}, format="json").json()
    assert approved["approved_layers"] == [[layer["id"], 1]]
    back = manager.post(
        f"/api/images/{image.pk}/status/",
        {"move": "request_changes", "comment": "Redo the edge."},
        format="json",
    ).json()
    assert back["approved_layers"] == []


def test_every_move_is_announced_live_once_committed(
    image, users, client_for, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[Any] = []
    monkeypatch.setattr(live, "publish", lambda project_id, event, **kwargs: sent.append(event))
    annotator, manager = client_for("annotator"), client_for("manager")
    with django_capture_on_commit_callbacks(execute=True):
        scribble(annotator, image)
        annotator.post(f"/api/images/{image.pk}/status/", {"move": "submit"}, format="json")
        manager.post(
            f"/api/images/{image.pk}/status/",
            {"move": "request_changes", "comment": "Fix the left one."},
            format="json",
        )
    moves = [e.to_json() for e in sent if e.TYPE == "image.status"]
    assert [(m["move"], m["previous"], m["status"], m["by"]) for m in moves] == [
        ("start", "todo", "in_progress", "annotator"),
        ("submit", "in_progress", "submitted", "annotator"),
        ("request_changes", "submitted", "changes_requested", "manager"),
    ]
    assert moves[-1]["note"] == "Fix the left one." and moves[-1]["name"] == NAME
    assert moves[-1]["assignee"] == "annotator"
    assert any(e.TYPE == "comment.added" for e in sent)
