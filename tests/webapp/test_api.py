"""The API's edges: numbers in query strings and JSON bodies that no column can hold are 400s
naming the parameter, never 500s, and a page never holds more than API_MAX_PAGE_SIZE items."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.urls import get_resolver

from labeling import services
from tests.factories import blank_image, png_bytes

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


@pytest.fixture
def image(project, users):
    return blank_image(project, users["owner"])


@pytest.mark.parametrize(
    ("path", "name", "raw"),
    [
        ("/api/projects/", "limit", HUGE),
        ("/api/projects/", "offset", HUGE),
        ("/api/projects/", "limit", "-3"),
        ("/api/projects/{project}/predictions/", "image", HUGE),
        ("/api/projects/{project}/predictions/", "model_version", HUGE),
        ("/api/projects/{project}/predictions/", "image", "²"),
        ("/api/projects/{project}/images/", "stack", "1_0"),
        ("/api/annotations/{annotation}/revisions/", "after", HUGE),
        ("/api/annotations/{annotation}/mask.png", "version", HUGE),
    ],
)
def test_an_integer_parameter_out_of_range_is_a_400_naming_it(
    client_for, project, image, users, path, name, raw
):
    annotation = services.annotation_save(
        image=image,
        author=users["owner"],
        kind="scribble",
        base_version=0,
        data={"strokes": [{"class_index": 1, "radius": 1, "points": [[2, 2]]}]},
    )
    url = path.format(project=project.pk, annotation=annotation.pk)
    response = client_for("viewer").get(url, {name: raw})
    assert response.status_code == 400, response.content
    assert name in response.json() or name in response.json().get("detail", "")


def test_a_page_holds_at_most_the_largest_page_size(client_for, users, settings):
    settings.API_MAX_PAGE_SIZE = 2
    for n in range(3):
        services.project_create(name=f"p{n}", owner=users["owner"], description="")
    body = client_for("owner").get("/api/projects/", {"limit": 1000}).json()
    assert (len(body["results"]), body["count"]) == (2, 3) and body["next"]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity"])
def test_a_json_number_no_float_holds_is_refused_and_stores_nothing(client_for, image, number):
    body = '{"kind": "derived", "base_version": 0, "data": {"provenance": {"source": "x", "n": NUMBER}}}'
    body = body.replace("NUMBER", number)
    response = client_for("annotator").post(
        f"/api/images/{image.pk}/annotations/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert not image.annotations.exists()


def test_a_multipart_json_field_with_such_a_number_is_refused(client_for, image):
    response = client_for("annotator").post(
        f"/api/images/{image.pk}/annotations/",
        {
            "kind": "derived",
            "base_version": 0,
            "data": '{"provenance": {"source": "x", "n": 1e400}}',
            "mask": io.BytesIO(png_bytes(np.ones((8, 8), np.uint8))),
        },
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert not image.annotations.exists()


def test_an_unknown_api_url_is_a_json_404(client_for):
    response = client_for("viewer").get("/api/no-such-thing/")
    assert response.status_code == 404 and "No API endpoint" in response.json()["detail"]


def test_a_body_over_the_upload_limit_is_a_json_413_before_it_is_read(client_for, project, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    body = b"x" * 2000
    response = client_for("manager").post(
        f"/api/projects/{project.pk}/images/", body, content_type="application/octet-stream"
    )
    assert response.status_code == 413 and "MAX_UPLOAD_BYTES" in response.json()["detail"]


def test_form_fields_over_djangos_memory_limit_are_a_json_413(client_for, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_for("manager").patch(
        f"/api/projects/{project.pk}/", {"description": "x" * 5000}, format="json"
    )
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_a_server_error_under_api_is_json_and_elsewhere_a_page(rf):
    handler = get_resolver().resolve_error_handler(500)
    api = handler(rf.get("/api/projects/"))
    assert api.status_code == 500 and "Server error" in json.loads(api.content)["detail"]
    assert handler(rf.get("/")).headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/projects/{project}/images/split/", {"images": [int(HUGE)], "split": "train"}),
        ("/api/projects/{project}/images/split/", {"images": [-1], "split": "train"}),
        ("/api/projects/{project}/assignments/", {"images": [int(HUGE)], "assignee": None}),
    ],
)
def test_an_image_id_no_key_can_hold_is_a_400_naming_the_field(client_for, project, image, path, body):
    response = client_for("owner").post(path.format(project=project.pk), body, format="json")
    assert response.status_code == 400, response.content
    assert "images" in response.json()
    image.refresh_from_db()
    assert image.split == "unassigned"
