"""How the API reads requests: integer query parameters through one helper, pages of at most
API_MAX_PAGE_SIZE items, JSON bodies without NaN or infinite numbers, so that input out of range is
a 400 naming the parameter rather than a database error (a 500). Named in REST_FRAMEWORK's
settings, so this module must not import DRF's views."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request

from webapp.inputs import MAX_INT, loads, whole_number


def query_int(request: Request, name: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    """The integer query parameter `name` (None when absent); a 400 naming it unless it is a plain
    whole number from minimum to maximum. Python's int() alone would take "1_0", " 7" and "²"."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    value = whole_number(raw)
    if value is None or not minimum <= value <= maximum:
        raise ValidationError({name: f"{raw[:40]!r} is not a whole number from {minimum} to {maximum}."})
    return value


def valid_input(serializer_class: type[Any], data: Any, **kwargs: Any) -> dict[str, Any]:
    """The fields of `data` as the input serializer validates them; a 400 with its errors if not."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class Pagination(LimitOffsetPagination):
    """?limit= and ?offset=, read through query_int; a page holds at most API_MAX_PAGE_SIZE items."""

    def get_limit(self, request: Request) -> int | None:
        limit = query_int(request, self.limit_query_param, minimum=1)
        return settings.API_PAGE_SIZE if limit is None else min(limit, settings.API_MAX_PAGE_SIZE)

    def get_offset(self, request: Request) -> int:
        return query_int(request, self.offset_query_param) or 0


class StrictJSONParser(JSONParser):
    """JSON bodies read by inputs.loads: NaN, Infinity and 1e400 are a 400."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return loads(codecs.getreader(encoding)(stream).read())
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
