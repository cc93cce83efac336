"""Errors the services raise; the API turns them into 400, 403, 409 and 423 answers with their
message (webapp/api.py)."""

from __future__ import annotations


class InvalidInput(ValueError):
    """The request cannot be carried out as sent (400). Nothing was stored.

    `code` names a refusal a client can answer by itself (the answer carries it beside the
    message): "pages_needed", a multi-page TIFF the uploader must say the pages of."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class NotAllowed(Exception):
    """This person may not do this here, whatever the request says (403). Nothing was stored."""


class Conflict(Exception):
    """The request was based on a state that has changed since (409). Nothing was stored."""

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class Locked(Exception):
    """What the request would change is held by the team workflow (423): an image under review
    keeps its labels until it is sent back. Sending it again cannot help. Nothing was stored."""
