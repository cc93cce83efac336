"""Restore a project from a backup zip made by `export_project NAME --full` (labeling/backup)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from labeling import services
from labeling.backup.restore import project_restore
from labeling.errors import InvalidInput
from labeling.importers.archive import Limits


class Command(BaseCommand):
    help = "Recreate a project from a backup zip (export_project --full), users matched by username."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the backup zip")
        parser.add_argument("--name", help="the new project's name (default: the backed-up project's)")
        parser.add_argument(
            "--create-users",
            action="store_true",
            help="make users this installation lacks, inactive and without a password (default: refuse)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        limits = Limits(
            entries=settings.PROJECT_IMPORT_MAX_ENTRIES,
            total_bytes=settings.PROJECT_IMPORT_MAX_BYTES,
            file_bytes=settings.PROJECT_IMPORT_MAX_BYTES,
        )
        try:
            project = project_restore(
                path=path, name=options["name"], create_users=options["create_users"], limits=limits
            )
        except InvalidInput as error:
            raise CommandError(str(error)) from None
        images = list(project.images.order_by("pk"))
        # Display renditions are not in a backup: made again from the originals.
        for image in tqdm(images, desc="renditions", unit="image", file=sys.stderr):
            services.image_render_displays(image=image)
        self.stdout.write(f"restored {project.name} (id {project.pk}): {len(images)} images")
