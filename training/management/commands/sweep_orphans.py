"""Remove stored files that no row names (older than ORPHAN_GRACE_SECONDS); --dry-run lists them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from training import orphans


class Command(BaseCommand):
    help = (
        "Remove stored files (folder or S3) that no row names and that were last written more than "
        "ORPHAN_GRACE_SECONDS ago, so uploads in flight are never touched. --dry-run only lists them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list the orphans, remove nothing")
        parser.add_argument(
            "--grace-seconds",
            type=int,
            default=None,
            help="only files older than this many seconds (default: ORPHAN_GRACE_SECONDS)",
        )

    def handle(self, *args: Any, dry_run: bool, grace_seconds: int | None, **options: Any) -> None:
        if grace_seconds is not None and grace_seconds < 0:
            raise CommandError("--grace-seconds must be 0 or more")
        if dry_run:
            found = orphans.find_orphans(grace_seconds=grace_seconds)
            verb = "would remove"
        else:
            found = orphans.orphans_sweep(grace_seconds=grace_seconds)
            verb = "removed"
        for orphan in found:
            self.stdout.write(f"{orphan.name}\t{orphan.modified.isoformat(timespec='seconds')}")
        self.stdout.write(f"{verb} {len(found)} orphan file(s)")
