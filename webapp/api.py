"""How service errors become HTTP answers: InvalidInput is 400, NotAllowed 403, Conflict 409,
Locked 423, and an object storage (S3) that cannot be reached 503. (How requests are read is
webapp/rest.py: DRF's settings name those classes, so they live apart from this module, which
imports DRF's views.)"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.errors import Conflict, InvalidInput, Locked, NotAllowed


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, InvalidInput):
        body = {"detail": str(error)} if error.code is None else {"detail": str(error), "code": error.code}
        return Response(body, status=400)
    if isinstance(error, NotAllowed):
        return Response({"detail": str(error)}, status=403)
    if isinstance(error, Locked):
        return Response({"detail": str(error)}, status=423)
    if isinstance(error, Conflict):
        return Response({"detail": str(error), "current_version": error.current_version}, status=409)
    if storage_unavailable(error):
        detail = (
            "The file storage (S3) cannot be reached or refused the request, so nothing was saved. "
            "Try again in a minute; if it persists, tell your administrator."
        )
        return Response({"detail": detail}, status=503, headers={"Retry-After": "30"})
    return drf_exception_handler(error, context)


def storage_unavailable(error: BaseException) -> bool:
    """An S3 error that is the storage's fault (unreachable, timed out, 5xx, throttled), not ours."""
    if isinstance(error, BotoCoreError):  # connection refused, timeouts, endpoint gone
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in {"SlowDown", "Throttling", "ServiceUnavailable", "RequestTimeout"}
    return False
