"""The permission matrix: every endpoint family for each role, a stranger and an anonymous caller.

viewer reads, annotator labels, manager manages images, classes and training, owner manages
members; a stranger gets 404 for anything of the project, so its existence does not leak.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from labeling import services
from labeling.models import Role
from tests.factories import field_png

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Action:
    name: str
    method: str
    url: str
    needs: Role
    body: Any = None
    format: str = "json"
    allowed_status: tuple[int, ...] = (200, 201, 204)


def upload_body(world: dict[str, int]) -> dict[str, Any]:
    handle = io.BytesIO(field_png(9))
    handle.name = "new.png"
    return {"files": [handle]}


ACTIONS = [
    Action("read project", "get", "/api/projects/{project}/", Role.VIEWER),
    Action("rename project", "patch", "/api/projects/{project}/", Role.MANAGER, {"name": "Renamed"}),
    Action("archive project", "delete", "/api/projects/{project}/", Role.OWNER),
    Action("list members", "get", "/api/projects/{project}/members/", Role.VIEWER),
    Action(
        "invite member",
        "post",
        "/api/projects/{project}/invitations/",
        Role.OWNER,
        {"username": "newcomer", "role": "annotator"},
        allowed_status=(202,),
    ),
    Action("list invitations", "get", "/api/projects/{project}/invitations/", Role.OWNER),
    Action("withdraw invitation", "delete", "/api/projects/{project}/invitations/{invitation}/", Role.OWNER),
    Action(
        "change role", "patch", "/api/projects/{project}/members/{viewer}/", Role.OWNER, {"role": "annotator"}
    ),
    Action("remove member", "delete", "/api/projects/{project}/members/{viewer}/", Role.OWNER),
    Action("list classes", "get", "/api/projects/{project}/classes/", Role.VIEWER),
    Action("add class", "post", "/api/projects/{project}/classes/", Role.MANAGER, {"name": "artifact"}),
    Action(
        "recolour class",
        "patch",
        "/api/projects/{project}/classes/{nucleus}/",
        Role.MANAGER,
        {"color": "#00ff00"},
    ),
    Action("list images", "get", "/api/projects/{project}/images/", Role.VIEWER),
    Action("upload image", "post", "/api/projects/{project}/images/", Role.MANAGER, upload_body, "multipart"),
    Action("read image", "get", "/api/images/{image}/", Role.VIEWER),
    Action("split image", "patch", "/api/images/{image}/", Role.MANAGER, {"split": "validation"}),
    Action("archive image", "delete", "/api/images/{image}/", Role.MANAGER),
    Action("thumbnail", "get", "/api/images/{image}/thumbnail.png", Role.VIEWER),
    Action("display", "get", "/api/images/{image}/channels/gray/display.png", Role.VIEWER),
    Action("original", "get", "/api/images/{image}/channels/gray/original", Role.VIEWER),
    Action("list annotations", "get", "/api/images/{image}/annotations/", Role.VIEWER),
    Action(
        "save annotation",
        "post",
        "/api/images/{image}/annotations/",
        Role.ANNOTATOR,
        {
            "kind": "scribble",
            "base_version": 1,
            "data": {"strokes": [{"class_index": 1, "radius": 2, "points": [[3, 3]]}]},
        },
    ),
    Action("read annotation", "get", "/api/annotations/{annotation}/", Role.VIEWER),
    Action("revisions", "get", "/api/annotations/{annotation}/revisions/", Role.VIEWER),
    Action("label map", "get", "/api/annotations/{annotation}/mask.png", Role.VIEWER),
    Action(
        "restore",
        "post",
        "/api/annotations/{annotation}/restore/",
        Role.ANNOTATOR,
        {"version": 1, "base_version": 1},
    ),
    Action("delete annotation", "delete", "/api/annotations/{annotation}/?base_version=1", Role.ANNOTATOR),
    Action("list runs", "get", "/api/projects/{project}/runs/", Role.VIEWER),
    Action("start run", "post", "/api/projects/{project}/runs/", Role.MANAGER, {}, allowed_status=(201,)),
    Action("list model versions", "get", "/api/projects/{project}/model-versions/", Role.VIEWER),
    Action("list predictions", "get", "/api/projects/{project}/predictions/", Role.VIEWER),
    # The team workflow (its moves by role: tests/labeling/test_workflow.py)
    Action(
        "assign images",
        "post",
        "/api/projects/{project}/assignments/",
        Role.MANAGER,
        lambda world: {"images": [world["image"]], "assignee": "annotator"},
    ),
    Action(
        "share images",
        "post",
        "/api/projects/{project}/assignments/share/",
        Role.MANAGER,
        {"annotators": ["annotator"]},
    ),
    Action("image status", "get", "/api/images/{image}/status/", Role.VIEWER),
    Action("review queue", "get", "/api/projects/{project}/review-queue/", Role.VIEWER),
    Action("list comments", "get", "/api/images/{image}/comments/", Role.VIEWER),
    Action(
        "write comment",
        "post",
        "/api/images/{image}/comments/",
        Role.ANNOTATOR,
        {"body": "Nucleus?"},
        allowed_status=(201,),
    ),
    Action("resolve comment", "post", "/api/comments/{comment}/resolve/", Role.ANNOTATOR, {}),
    Action("project comments", "get", "/api/projects/{project}/comments/", Role.VIEWER),
    Action("progress", "get", "/api/projects/{project}/progress/", Role.VIEWER),
    Action("progress csv", "get", "/api/projects/{project}/progress.csv", Role.VIEWER),
    Action("audit list", "get", "/api/projects/{project}/audit/", Role.OWNER),
]
RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.MANAGER: 2, Role.OWNER: 3}


@pytest.fixture
def world(project, users, nucleus) -> dict[str, int]:
    users["newcomer"] = type(users["owner"]).objects.create_user("newcomer")
    (image,) = services.image_ingest(
        project=project, uploader=users["manager"], uploads=[services.Upload("f.png", field_png(size=32))]
    )
    annotation = services.annotation_save(
        image=image,
        author=users["annotator"],
        kind="scribble",
        base_version=0,
        data={"strokes": [{"class_index": nucleus.index, "radius": 2, "points": [[5, 5]]}]},
    )
    services.image_ingest(  # unlabelled and unassigned: something to share
        project=project, uploader=users["manager"], uploads=[services.Upload("g.png", field_png(size=32))]
    )
    comment = services.comment_add(image=image, author=users["annotator"], body="Is this a nucleus?")
    invitation = services.invitation_create(
        project=project, username="guest", role="viewer", by=users["owner"]
    )
    return {
        "invitation": invitation.pk,
        "project": project.pk,
        "image": image.pk,
        "annotation": annotation.pk,
        "comment": comment.pk,
        "nucleus": nucleus.pk,
        "viewer": users["viewer"].pk,
    }


def call(client: APIClient, action: Action, world: dict[str, int]) -> Any:
    body = action.body(world) if callable(action.body) else action.body
    url = action.url.format(**world)
    return getattr(client, action.method)(url, body, format=action.format)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
@pytest.mark.parametrize("who", ["owner", "manager", "annotator", "viewer", "stranger"])
def test_each_role_gets_what_its_rank_allows(action, who, world, client_for):
    response = call(client_for(who), action, world)
    if who == "stranger":
        assert response.status_code == 404, response.content
    elif RANK[Role(who)] >= RANK[action.needs]:
        assert response.status_code in action.allowed_status, response.content
    else:
        assert response.status_code == 403, response.content
        assert action.needs.label.lower() in response.json()["detail"]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_anonymous_callers_are_refused(action, world):
    response = call(APIClient(), action, world)
    assert response.status_code in (401, 403)


def test_a_stranger_does_not_see_the_project_in_lists(world, client_for):
    assert client_for("stranger").get("/api/projects/").json()["count"] == 0
    assert client_for("viewer").get("/api/projects/").json()["results"][0]["role"] == "viewer"


def test_token_auth_works_for_scripts(world, users):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=users["viewer"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(f"/api/projects/{world['project']}/images/").status_code == 200


def test_the_last_owner_cannot_leave(world, users, client_for):
    response = client_for("owner").delete(f"/api/projects/{world['project']}/members/{users['owner'].pk}/")
    assert response.status_code == 400
    assert "at least one owner" in response.json()["detail"]
