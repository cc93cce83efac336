"""The HTML pages: the app shell (the front end built from frontend/), a health check, and the
error pages, which are JSON under /api/ (clients there read {"detail": ...}), HTML elsewhere."""

from __future__ import annotations

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def health(request: HttpRequest) -> JsonResponse:
    """Is the database and Redis reachable? 200 when both are, 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # any failure is reported, not raised
        checks["database"] = f"error: {error}"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"error: {error}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": f"No API endpoint at {request.path}; see /api/docs/."}, status=404)
    return defaults.page_not_found(request, exception or Exception())


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's own refusals before a view runs: a body over DATA_UPLOAD_MAX_MEMORY_SIZE (fields
    other than files) or with too many fields or files is a 413, anything else a 400."""
    if not _is_api(request):
        return defaults.bad_request(request, exception or Exception())
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        return JsonResponse({"detail": f"The request is too large: {exception}"}, status=413)
    return JsonResponse({"detail": f"Bad request: {exception}"}, status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """A bug of ours (the traceback is in the server's log): JSON under /api/ too."""
    if not _is_api(request):
        return defaults.server_error(request)
    detail = (
        "Server error: the request was not completed. Tell your administrator; the server's log says why."
    )
    return JsonResponse({"detail": detail}, status=500)
