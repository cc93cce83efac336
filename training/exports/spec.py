"""What an export holds, parsed once at the edge (the API's query, the command's options) into one
typed, validated spec; everything after reads the spec, never the raw options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from labeling.errors import InvalidInput

What = Literal["human", "accepted", "predictions"]
Format = Literal["classes", "instances", "ome", "coco", "geojson", "csv"]
WHATS: tuple[What, ...] = ("human", "accepted", "predictions")
FORMATS: tuple[Format, ...] = ("classes", "instances", "ome", "coco", "geojson", "csv")
OPTIONS = ("what", "as", "model_version")


class OptionError(InvalidInput):
    """A bad export option; `option` names it (the API answers {option: message}, 400)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


@dataclass(frozen=True)
class ExportSpec:
    what: What
    formats: tuple[Format, ...]  # in FORMATS order, no repeats
    model_version: int | None  # the version whose predictions are exported ("predictions" only)


def parse_spec(options: Mapping[str, str | None]) -> ExportSpec:
    """The spec of raw options: `what` (default human), `as` (a comma-separated list of formats,
    default all), `model_version` (required for predictions, refused otherwise)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise OptionError(unknown[0], f"not an export option; the options are {', '.join(OPTIONS)}")
    what = (options.get("what") or "human").strip()
    if what not in WHATS:
        raise OptionError("what", f"{what!r} is not one of {', '.join(WHATS)}")
    return ExportSpec(
        what=what,
        formats=_formats(options.get("as")),
        model_version=_version(what, options.get("model_version")),
    )


def _formats(raw: str | None) -> tuple[Format, ...]:
    if raw is None or not raw.strip():
        return FORMATS
    asked = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(asked - set(FORMATS))
    if unknown:
        raise OptionError("as", f"{unknown[0]!r} is not a format; choose from {', '.join(FORMATS)}")
    return tuple(name for name in FORMATS if name in asked)


def _version(what: What, raw: str | None) -> int | None:
    if raw is None or raw == "":
        if what == "predictions":
            raise OptionError("model_version", "say which model version's predictions to export")
        return None
    if what != "predictions":
        raise OptionError("model_version", "only predictions come from a model version; leave it out")
    if not raw.strip().isdigit():
        raise OptionError("model_version", f"{raw!r} is not the id of a model version")
    return int(raw)
