"""Stored files that nothing names any more, and their removal (`manage.py sweep_orphans`).

A file is named by a row (any FileField of any model, and a run's preview points, whose file is in
`RunMetric.values["file"]`) or, for the instant previews, by the image's record in Redis. Every
writer stores the file first and the row after, so a file written a moment ago may not be named
yet: only files older than ORPHAN_GRACE_SECONDS are orphans, so an upload in flight is never
removed. Orphans come from processes killed between the two writes, from a Redis that lost its
preview records, and from deletions whose file removal failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import models
from django.utils import timezone

from training.features.preview_requests import preview_key
from training.models import RunMetric
from webapp.jobs import redis_client


@dataclass(frozen=True)
class Orphan:
    name: str
    modified: datetime


def named_files() -> set[str]:
    """Every storage name a row (or a live preview record) refers to."""
    names: set[str] = set()
    for model in apps.get_models():
        fields = [f.name for f in model._meta.get_fields() if isinstance(f, models.FileField)]
        for field in fields:
            values = model._default_manager.exclude(**{field: ""}).values_list(field, flat=True)
            names.update(value for value in values.iterator() if value)
    for values in (
        RunMetric.objects.filter(values__has_key="file").values_list("values", flat=True).iterator()
    ):
        names.add(values["file"])
    redis = redis_client()
    for key in redis.scan_iter(match=preview_key(0).removesuffix("0") + "*", count=500):
        file = redis.hget(key, "file")
        if file:
            names.add(file.decode() if isinstance(file, bytes) else file)
    return names


def stored_files(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file name under `folder`, walking sub-folders (S3's listing and a folder's alike)."""
    folders, files = storage.listdir(folder)
    prefix = f"{folder}/" if folder else ""
    for name in files:
        yield prefix + name
    for sub in folders:
        yield from stored_files(storage, prefix + sub)


def find_orphans(*, storage: Storage = default_storage, grace_seconds: int | None = None) -> list[Orphan]:
    """Files no row names, last written more than the grace period ago, oldest first."""
    grace = settings.ORPHAN_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    # Names are read after the listing: a file stored and named between the two is then named.
    listed = list(stored_files(storage))
    named = named_files()
    orphans = []
    for name in listed:
        if name in named:
            continue
        modified = storage.get_modified_time(name)
        if modified <= cutoff:
            orphans.append(Orphan(name, modified))
    return sorted(orphans, key=lambda orphan: orphan.modified)


def orphans_sweep(*, storage: Storage = default_storage, grace_seconds: int | None = None) -> list[Orphan]:
    """Delete the orphans; the ones deleted. A file named again meanwhile is kept (checked again)."""
    orphans = find_orphans(storage=storage, grace_seconds=grace_seconds)
    if not orphans:
        return []
    named = named_files()
    removed = []
    for orphan in orphans:
        if orphan.name not in named:
            storage.delete(orphan.name)
            removed.append(orphan)
    return removed
