"""How service errors become HTTP answers: InvalidInput is 400, Conflict is 409."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.errors import Conflict, InvalidInput


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, InvalidInput):
        return Response({"detail": str(error)}, status=400)
    if isinstance(error, Conflict):
        return Response({"detail": str(error), "current_version": error.current_version}, status=409)
    return drf_exception_handler(error, context)
