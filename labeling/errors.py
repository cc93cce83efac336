"""Errors the services raise; the API turns them into 400 and 409 answers with their message."""

from __future__ import annotations


class InvalidInput(ValueError):
    """The request cannot be carried out as sent (400). Nothing was stored."""


class Conflict(Exception):
    """The request was based on a state that has changed since (409). Nothing was stored."""

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version
