"""Multipart parsing that refuses file names with paths instead of silently trimming them.

Django keeps only the last path component of an uploaded file's name. For microscopy data a
name like "plate1/A01.tif" usually means the client sent something it did not intend (and
"../x" is an attack), so we say so with a 400 instead of storing the file under a guessed name.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser


class StrictNameParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        name = html.unescape(file_name)
        if "/" in name or "\\" in name or name in {"", ".", ".."}:
            raise MultiPartParserError(f"File name {name!r} must be a plain name without path separators.")
        return super().sanitize_file_name(name)


class StrictMultiPartParser(MultiPartParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> DataAndFiles[Any, Any]:
        context = parser_context or {}
        request = context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            parser = StrictNameParser(meta, stream, request.upload_handlers, context.get("encoding", "utf-8"))
            data, files = parser.parse()
        except MultiPartParserError as error:
            raise ParseError(str(error)) from None
        return DataAndFiles(data, files)
