"""Import a BioImage.IO package exported by Lesslabel into a project as a model version, from the
shell (the same service as POST /api/projects/<id>/model-versions/import/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling import selectors
from labeling.errors import InvalidInput
from training.models_out.services import model_version_import


class Command(BaseCommand):
    help = (
        "Import a model package exported by Lesslabel (a BioImage.IO zip) into a project as a model "
        "version, usable for prediction jobs and as a warm start; its classes are matched by name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the package (.zip)")
        parser.add_argument("--project", required=True, help="the project's name")
        parser.add_argument("--user", help="who imports it (default: the project's creator)")

    def handle(self, *args: Any, **options: Any) -> None:
        projects = selectors.live_projects_named(options["project"])
        if len(projects) != 1:
            found = "no" if not projects else f"{len(projects)}"
            raise CommandError(f"There are {found} live projects named {options['project']!r}; name one.")
        project = projects[0]
        author = project.created_by
        if options["user"]:
            named = get_user_model().objects.filter(username=options["user"]).first()
            if named is None:
                raise CommandError(f"There is no user {options['user']!r}.")
            author = named
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            version = model_version_import(project=project, author=author, data=path.read_bytes())
        except InvalidInput as error:
            raise CommandError(f"{error} Nothing was imported.") from None
        self.stdout.write(f"model version {version.pk} in project {project.name!r} (run {version.run_id})")
