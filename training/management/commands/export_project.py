"""Export a project from the shell, as the API's export does (training/exports), or with --full
its backup (labeling/backup): the original images and every label revision, for import_project
on another installation. The zip is written under a temporary name and renamed when complete."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from labeling import selectors
from labeling.backup.dump import project_backup
from labeling.errors import InvalidInput
from labeling.models import Project
from training.exports import spec, stream


class Command(BaseCommand):
    help = "Export a project's labels or a model version's predictions as a zip, or (--full) back it up."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the project's name (or its id, if no project has that name)")
        parser.add_argument("--output", type=Path, required=True, help="the zip to write")
        parser.add_argument("--what", choices=spec.WHATS, default="human")
        parser.add_argument(
            "--as", dest="formats", help=f"comma-separated, of {', '.join(spec.FORMATS)} (default all)"
        )
        parser.add_argument("--model-version", type=int, help="the version whose predictions to export")
        parser.add_argument("--full", action="store_true", help="a backup: images and every label revision")

    def handle(self, *args: Any, **options: Any) -> None:
        project = _project(options["name"])
        output: Path = options["output"]
        if not output.parent.is_dir():
            raise CommandError(f"{output.parent} is not a folder.")
        if options["full"]:
            bar = tqdm(desc="backup", unit="B", unit_scale=True, file=sys.stderr)
            _write(output, _counted(project_backup(project), bar))
            bar.close()
            self.stdout.write(f"backup of {project.name} -> {output}")
            return
        raw = {"what": options["what"], "as": options["formats"], "model_version": options["model_version"]}
        try:
            parsed = spec.parse_spec(
                {key: None if value is None else str(value) for key, value in raw.items()}
            )
            export = stream.export_prepare(project=project, spec=parsed, max_images=None)
        except InvalidInput as error:
            raise CommandError(str(error)) from None
        with tqdm(total=stream.labelled_count(export), desc="export", unit="image", file=sys.stderr) as bar:

            def advance() -> None:
                bar.update(1)

            _write(output, stream.export_stream(export, on_image=advance))
        self.stdout.write(
            f"{export.spec.what} of {project.name} ({', '.join(export.spec.formats)}) -> {output}"
        )


def _project(name: str) -> Project:
    found = selectors.projects_named(name)
    if not found and name.isdigit():
        project = selectors.live_project(int(name))
        found = [project] if project is not None else []
    if not found:
        raise CommandError(f"There is no live project named {name!r}.")
    if len(found) > 1:
        ids = ", ".join(str(project.pk) for project in found)
        raise CommandError(f"{len(found)} projects are named {name!r} (ids {ids}); give the id instead.")
    return found[0]


def _counted(chunks: Iterator[bytes], bar: Any) -> Iterator[bytes]:
    for chunk in chunks:
        bar.update(len(chunk))
        yield chunk


def _write(output: Path, chunks: Iterator[bytes]) -> None:
    """The chunks into `output`, which appears only once they are all written."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
