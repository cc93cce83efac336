"""A project as a backup zip, streamed: the original files and label maps as members, and
backup.json, which names them, last.

    originals/<n>/<original file name>    each stored upload once (a stack's planes share one)
    labelmaps/<revision id>-<field><ext>  each revision's mask, instance map and snapshot
    backup.json                           the rows, users by username (FORMAT below)
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.db.models.fields.files import FieldFile

from labeling.models import Annotation, AnnotationRevision, Image, Project, Stack, StatusChange
from labeling.zipstream import ZipStream

FORMAT = "lesslabel-backup"
FORMAT_VERSION = 1
REVISION_FILES = ("mask", "instances", "snapshot")


def project_backup(project: Project) -> Iterator[bytes]:
    zipped = ZipStream()
    originals: dict[str, str] = {}  # stored file name -> member
    images = []
    rows = Image.objects.filter(project=project).order_by("pk").select_related("uploaded_by")
    for image in rows.prefetch_related("sources", "channels"):
        for source in image.sources.all():
            if str(source.file.name) not in originals:
                member = f"originals/{len(originals) + 1}/{_plain(source.original_name)}"
                originals[str(source.file.name)] = member
                yield from _add_file(zipped, member, source.file)
        images.append(_image_row(image, originals))
    annotations = []
    heads = Annotation.objects.filter(image__project=project).select_related(
        "label_class", "created_by", "updated_by"
    )
    for head in heads.order_by("pk"):
        revisions = []
        for revision in head.revisions.select_related("author").order_by("version"):
            members: dict[str, str] = {}
            yield from _revision_files(zipped, revision, members)
            revisions.append(_revision_row(revision, members))
        annotations.append(_annotation_row(head, revisions))
    document = _document(project, images, annotations)
    yield from zipped.add("backup.json", json.dumps(document).encode())
    yield zipped.close()


def _revision_files(
    zipped: ZipStream, revision: AnnotationRevision, members: dict[str, str]
) -> Iterator[bytes]:
    """The revision's label maps into the zip; `members` gets the member of each."""
    for field in REVISION_FILES:
        stored: FieldFile = getattr(revision, field)
        if stored:
            suffix = PurePosixPath(str(stored.name)).suffix
            members[field] = f"labelmaps/{revision.pk}-{field}{suffix}"
            yield from _add_file(zipped, members[field], stored)


def _add_file(zipped: ZipStream, member: str, stored: FieldFile) -> Iterator[bytes]:
    with stored.open("rb") as handle:
        yield from zipped.add_file(member, handle)


def _plain(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name or "file"


def _time(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _image_row(image: Image, originals: dict[str, str]) -> dict[str, Any]:
    return {
        "ref": image.pk,
        "name": image.name,
        "width": image.width,
        "height": image.height,
        "dtype": image.dtype,
        "split": image.split,
        "pixel_size_x": image.pixel_size_x,
        "pixel_size_y": image.pixel_size_y,
        "stack": image.stack_id,
        "z": image.z,
        "t": image.t,
        "uploaded_by": image.uploaded_by.username,
        "created_at": _time(image.created_at),
        "archived_at": _time(image.archived_at),
        "sources": [
            {
                "ref": source.pk,
                "member": originals[str(source.file.name)],
                "original_name": source.original_name,
                "pages": source.pages,
                "sha256": source.sha256,
                "size": source.size,
            }
            for source in image.sources.all()
        ],
        "channels": [
            {
                "name": channel.name,
                "index": channel.index,
                "source": channel.source_id,
                "page": channel.page,
                "dtype": channel.dtype,
                "display_low": channel.display_low,
                "display_high": channel.display_high,
                "minimum": channel.minimum,
                "maximum": channel.maximum,
            }
            for channel in image.channels.all()
        ],
    }


def _revision_row(revision: AnnotationRevision, members: dict[str, str]) -> dict[str, Any]:
    return {
        "version": revision.version,
        "author": revision.author.username,
        "created_at": _time(revision.created_at),
        "data": revision.data,
        "is_deleted": revision.is_deleted,
        **members,
    }


def _annotation_row(head: Annotation, revisions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ref": head.pk,
        "image": head.image_id,
        "kind": head.kind,
        # A tag's key is its class's id, which the restore gives anew: the class goes by index.
        "key": head.key if head.label_class is None else "",
        "label_class": head.label_class.index if head.label_class is not None else None,
        "version": head.version,
        "is_deleted": head.is_deleted,
        "created_by": head.created_by.username,
        "created_at": _time(head.created_at),
        "updated_by": head.updated_by.username,
        "updated_at": _time(head.updated_at),
        "revisions": revisions,
    }


def _document(
    project: Project, images: list[dict[str, Any]], annotations: list[dict[str, Any]]
) -> dict[str, Any]:
    memberships = project.memberships.select_related("user").order_by("pk")
    changes = StatusChange.objects.filter(image__project=project).select_related("by").order_by("at", "pk")
    works = [
        image.work
        for image in Image.objects.filter(project=project, work__isnull=False).select_related(
            "work__assignee"
        )
    ]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app_version": settings.APP_VERSION,
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "project": {
            "name": project.name,
            "description": project.description,
            "created_by": project.created_by.username,
            "created_at": _time(project.created_at),
        },
        "members": [{"user": m.user.username, "role": m.role} for m in memberships],
        "classes": [
            {"index": c.index, "name": c.name, "color": c.color, "countable": c.countable}
            for c in project.classes.order_by("index")
        ],
        "stacks": [
            {
                "ref": s.pk,
                "name": s.name,
                "size_z": s.size_z,
                "size_t": s.size_t,
                "pixel_size_z": s.pixel_size_z,
            }
            for s in Stack.objects.filter(project=project).order_by("pk")
        ],
        "images": images,
        "annotations": annotations,
        "work": [
            {
                "image": work.image_id,
                "status": work.status,
                "assignee": work.assignee.username if work.assignee else None,
                "assigned_at": _time(work.assigned_at),
                "status_at": _time(work.status_at),
                "approved_layers": work.approved_layers,
            }
            for work in works
        ],
        "status_changes": [
            {
                "image": c.image_id,
                "action": c.action,
                "previous": c.previous,
                "status": c.status,
                "by": c.by.username,
                "at": _time(c.at),
            }
            for c in changes
        ],
    }
