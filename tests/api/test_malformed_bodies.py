"""A malformed body gets the API's JSON refusal through the real server, never the HTTP server's
own bare 400: daphne's Twisted would parse every multipart POST itself and answer an empty one
(`--boundary--`) with no Content-Type and no body, before Django saw the request."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.factories import raw_multipart

POSTS = [
    "/api/projects/",
    "/api/projects/{project}/images/",
    "/api/projects/{project}/classes/",
    "/api/projects/{project}/annotations/import/",
    "/api/projects/{project}/model-versions/import/",
    "/api/projects/{project}/runs/",
]


pytestmark = pytest.mark.django_db(transaction=True)  # the server only sees committed rows


@pytest.fixture
def owner_token(users: dict[str, Any]) -> str:
    return str(Token.objects.create(user=users["owner"]).key)


@pytest.mark.parametrize("path", POSTS)
def test_an_empty_multipart_body_is_a_json_400_that_says_what_is_missing(
    api_server, owner_token, project, path
):
    body, content_type = raw_multipart([])
    assert body.startswith(b"--") and body.endswith(b"--\r\n")  # nothing but the closing boundary
    response = requests.post(
        api_server + path.format(project=project.pk),
        data=body,
        headers={"Authorization": f"Token {owner_token}", "Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json(), "the refusal names what to send"


def test_a_multipart_body_without_a_boundary_is_a_json_400_with_a_detail(api_server, owner_token, project):
    body, _ = raw_multipart([])
    response = requests.post(
        f"{api_server}/api/projects/{project.pk}/images/",
        data=body,
        headers={"Authorization": f"Token {owner_token}", "Content-Type": "multipart/form-data"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "boundary" in response.json()["detail"]
    assert project.images.count() == 0
