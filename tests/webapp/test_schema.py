"""The OpenAPI schema says what the API answers: lists as arrays, and the JSON errors."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

LISTS = [
    "/api/projects/{project_id}/members/",
    "/api/projects/{project_id}/invitations/",
    "/api/projects/{project_id}/classes/",
    "/api/images/{image_id}/annotations/",
    "/api/annotations/{annotation_id}/revisions/",
    "/api/images/{image_id}/comments/",
    "/api/runs/{run_id}/metrics/",
    "/api/projects/{project_id}/uncertainty-ranking/",
]


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize("path", LISTS)
def test_a_list_that_answers_an_array_is_documented_as_one(schema, path):
    content = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    assert content["schema"]["type"] == "array"


def test_an_upload_answers_its_new_images_as_a_plain_array_not_a_page(schema):
    operation = schema["paths"]["/api/projects/{project_id}/images/"]["post"]
    content = operation["responses"]["201"]["content"]["application/json"]
    assert content["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/ImageOut"}}
    assert not {"limit", "offset"} & {parameter["name"] for parameter in operation.get("parameters", [])}


def test_every_operation_documents_its_json_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "403", "404", "413"} <= codes, (method, path)
            if method in ("post", "put", "patch", "delete"):
                assert "409" in codes, (method, path)
