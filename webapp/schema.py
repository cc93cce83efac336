"""The OpenAPI schema true to the answers. Every operation may answer with the JSON errors of
webapp/api.py (400 bad input, 401/403 not allowed, 404 not found or not yours, 413 too large),
writes also with 409 (someone saved first) and 423 (the image is under review): a postprocessing
hook adds them where a view did not document its own. Only GET lists are paginated (AutoSchema)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi

ERROR = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": 'A refusal: {"detail": "..."}, or {"<field>": ["..."]} for a field that is not valid.',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
ALWAYS = {
    "400": "The request is not valid; the body says what to change.",
    "401": "Not signed in.",
    "403": "Signed in, but your role does not allow this.",
    "404": "No such object in a project of yours.",
    "413": "The request body is too large.",
}
WRITES = {
    "409": "Someone changed this since you read it (current_version says to what).",
    "423": "The image is under review and cannot be labelled now.",
}


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            answers = {**ALWAYS, **(WRITES if method in ("post", "put", "patch", "delete") else {})}
            responses = operation.setdefault("responses", {})
            for code, description in answers.items():
                responses.setdefault(code, {"description": description, "content": reference})
    return result


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular pages every list a view with a pagination class answers; in this API only
    GET lists are paginated, and a write that answers a list (an upload's new images) answers a
    plain array."""

    def _get_paginator(self) -> Any:
        return super()._get_paginator() if self.method == "GET" else None
