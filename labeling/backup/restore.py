"""A backup zip (dump.py) made into a new project, all or nothing: the zip's directory is checked
(no links, no names outside its folder, within the limits) before anything is read; then every
row is written in one transaction and every file before the row naming it, so a damaged member
or a malformed backup.json rolls the rows back and removes the files already written.

Users are matched by username. A backup naming users this installation lacks is refused with
their names, unless `create_users` makes them as inactive accounts without a password (an admin
activates them or sets a password), so that every revision keeps its author.
"""

from __future__ import annotations

import datetime
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Model
from django.db.models.fields.files import FieldFile

from labeling.backup.dump import FORMAT, FORMAT_VERSION, REVISION_FILES
from labeling.errors import InvalidInput
from labeling.importers.archive import Limits, check_directory
from labeling.models import (
    Annotation,
    AnnotationRevision,
    Channel,
    Image,
    ImageWork,
    LabelClass,
    Membership,
    Project,
    SourceFile,
    Stack,
    StatusChange,
)

DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
MALFORMED = (KeyError, TypeError, ValueError, AttributeError)


@dataclass
class _Restoring:
    zipped: zipfile.ZipFile
    users: dict[str, Any]
    written: list[str] = field(default_factory=list)  # stored file names, removed on failure
    stored: dict[str, str] = field(default_factory=dict)  # member -> stored file name
    classes: dict[int, LabelClass] = field(default_factory=dict)  # by index
    stacks: dict[int, Stack] = field(default_factory=dict)  # by ref
    images: dict[int, Image] = field(default_factory=dict)
    annotations: dict[int, int] = field(default_factory=dict)  # ref -> new id


def project_restore(*, path: Path, name: str | None, create_users: bool, limits: Limits) -> Project:
    try:
        zipped = zipfile.ZipFile(path)
    except DAMAGED as error:
        raise InvalidInput(f"{path.name} is not a readable zip ({error}); nothing was restored.") from None
    with zipped:
        check_directory(path.name, [info for info in zipped.infolist() if not info.is_dir()], limits)
        document = _document(zipped, path.name)
        restoring = _Restoring(zipped=zipped, users={})
        try:
            with transaction.atomic():
                restoring.users = _users(document, create_users=create_users)
                return _write(restoring, document, name)
        except DAMAGED as error:
            _remove(restoring.written)
            raise InvalidInput(f"{path.name} is damaged ({error}); nothing was restored.") from None
        except MALFORMED as error:
            _remove(restoring.written)
            raise InvalidInput(
                f"{path.name}: backup.json does not describe a project ({type(error).__name__}: {error}); "
                "nothing was restored."
            ) from None
        except BaseException:
            _remove(restoring.written)
            raise


def _document(zipped: zipfile.ZipFile, zip_name: str) -> dict[str, Any]:
    try:
        document = json.loads(zipped.read("backup.json"))
    except KeyError:
        raise InvalidInput(
            f"{zip_name} has no backup.json: it is not a project backup (export_project --full makes one)."
        ) from None
    except (*DAMAGED, ValueError) as error:
        raise InvalidInput(f"{zip_name}: backup.json is damaged ({error}); nothing was restored.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidInput(f"{zip_name} is not a Lesslabel project backup.")
    if document.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(
            f"{zip_name} is a backup of format version {document.get('format_version')}; this server "
            f"reads version {FORMAT_VERSION}. Restore it on a server of the version that made it."
        )
    return document


def _usernames(document: dict[str, Any]) -> set[str]:
    names = {document["project"]["created_by"], *(m["user"] for m in document["members"])}
    names |= {image["uploaded_by"] for image in document["images"]}
    for head in document["annotations"]:
        names |= {head["created_by"], head["updated_by"], *(r["author"] for r in head["revisions"])}
    names |= {work["assignee"] for work in document["work"] if work["assignee"]}
    names |= {change["by"] for change in document["status_changes"]}
    return names


def _users(document: dict[str, Any], *, create_users: bool) -> dict[str, Any]:
    model = get_user_model()
    names = _usernames(document)
    found = {user.username: user for user in model.objects.filter(username__in=names)}
    missing = sorted(names - set(found))
    if missing and not create_users:
        raise InvalidInput(
            f"This installation has no user {', '.join(missing)}; create them first (users are matched "
            "by username), or restore with --create-users to make them as inactive accounts."
        )
    for username in missing:
        found[username] = model.objects.create_user(username=username, password=None, is_active=False)
    return found


def _write(restoring: _Restoring, document: dict[str, Any], name: str | None) -> Project:
    users, about = restoring.users, document["project"]
    project = Project.objects.create(
        name=name or about["name"], description=about["description"], created_by=users[about["created_by"]]
    )
    _backdate(project, "created_at", about["created_at"])
    for member in document["members"]:
        Membership.objects.create(project=project, user=users[member["user"]], role=member["role"])
    for row in document["classes"]:
        restoring.classes[row["index"]] = LabelClass.objects.create(project=project, **row)
    for row in document["stacks"]:
        ref = row.pop("ref")
        restoring.stacks[ref] = Stack.objects.create(project=project, **row)
    for row in document["images"]:
        restoring.images[row["ref"]] = _image(restoring, project, row)
    for row in document["annotations"]:
        _annotation(restoring, row)
    _review(restoring, document)
    return project


def _image(restoring: _Restoring, project: Project, row: dict[str, Any]) -> Image:
    image = Image.objects.create(
        project=project,
        name=row["name"],
        width=row["width"],
        height=row["height"],
        dtype=row["dtype"],
        split=row["split"],
        pixel_size_x=row["pixel_size_x"],
        pixel_size_y=row["pixel_size_y"],
        stack=restoring.stacks[row["stack"]] if row["stack"] is not None else None,
        z=row["z"],
        t=row["t"],
        uploaded_by=restoring.users[row["uploaded_by"]],
        archived_at=_parse(row["archived_at"]),
    )
    _backdate(image, "created_at", row["created_at"])
    sources = {}
    for source in row["sources"]:
        created = SourceFile(
            image=image,
            original_name=source["original_name"],
            pages=source["pages"],
            sha256=source["sha256"],
            size=source["size"],
        )
        _store(restoring, created.file, source["member"])
        created.save()
        sources[source["ref"]] = created
    for channel in row["channels"]:
        Channel.objects.create(image=image, **{**channel, "source": sources[channel["source"]]})
    return image


def _annotation(restoring: _Restoring, row: dict[str, Any]) -> None:
    users = restoring.users
    label_class = restoring.classes[row["label_class"]] if row["label_class"] is not None else None
    head = Annotation.objects.create(
        image=restoring.images[row["image"]],
        kind=row["kind"],
        key=str(label_class.pk) if label_class is not None else row["key"],
        label_class=label_class,
        version=row["version"],
        is_deleted=row["is_deleted"],
        created_by=users[row["created_by"]],
        updated_by=users[row["updated_by"]],
        updated_at=datetime.datetime.fromisoformat(row["updated_at"]),
    )
    _backdate(head, "created_at", row["created_at"])
    restoring.annotations[row["ref"]] = head.pk
    for step in row["revisions"]:
        revision = AnnotationRevision(
            annotation=head,
            version=step["version"],
            author=users[step["author"]],
            data=step["data"],
            is_deleted=step["is_deleted"],
        )
        for name in REVISION_FILES:
            if step.get(name):
                _store(restoring, getattr(revision, name), step[name])
        revision.save()
        _backdate(revision, "created_at", step["created_at"])


def _review(restoring: _Restoring, document: dict[str, Any]) -> None:
    users, images = restoring.users, restoring.images
    for work in document["work"]:
        frozen = [[restoring.annotations[int(ref)], version] for ref, version in work["approved_layers"]]
        ImageWork.objects.create(
            image=images[work["image"]],
            status=work["status"],
            assignee=users[work["assignee"]] if work["assignee"] else None,
            assigned_at=_parse(work["assigned_at"]),
            status_at=_parse(work["status_at"]),
            approved_layers=frozen,
        )
    for change in document["status_changes"]:
        row = StatusChange.objects.create(
            image=images[change["image"]],
            action=change["action"],
            previous=change["previous"],
            status=change["status"],
            by=users[change["by"]],
        )
        _backdate(row, "at", change["at"])


def _store(restoring: _Restoring, target: FieldFile, member: str) -> None:
    """The member's bytes as the field's file; a member several rows name is stored once."""
    if member in restoring.stored:
        target.name = restoring.stored[member]
        return
    # The name is chosen before writing, so that a member found damaged half way through is
    # removed with the rest.
    name = target.storage.get_available_name(
        target.field.generate_filename(target.instance, PurePosixPath(member).name)
    )
    restoring.written.append(name)
    with restoring.zipped.open(member) as handle:
        saved = target.storage.save(name, File(handle))
    restoring.written[-1] = target.name = saved
    restoring.stored[member] = saved


def _backdate(row: Model, field_name: str, value: str | None) -> None:
    """Set a time Django fills in on creation (auto_now_add) to the one in the backup."""
    if value is not None:
        type(row)._default_manager.filter(pk=row.pk).update(**{field_name: _parse(value)})


def _parse(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value is not None else None


def _remove(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
