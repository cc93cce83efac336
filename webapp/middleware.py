"""Middleware of our own: bodies over the upload limit refused before they are read, and the
Content-Security-Policy header."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodyLimitMiddleware:
    """A request whose Content-Length is over MAX_UPLOAD_BYTES gets a JSON 413 at once, before
    anything of its body is read or stored."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_UPLOAD_BYTES:
            limit = settings.MAX_UPLOAD_BYTES
            detail = f"The request body is {length} bytes; at most {limit} (MAX_UPLOAD_BYTES)."
            return JsonResponse({"detail": detail}, status=413)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Adds CONTENT_SECURITY_POLICY to every answer that has none of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response
