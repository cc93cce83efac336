"""Label classes of a project: add, rename or recolour, and remove while no label can use them.

Each change is recorded in the project's audit list with who made it (`by`)."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from labeling.errors import Conflict, InvalidInput
from labeling.models import (
    Annotation,
    AuditAction,
    LabelClass,
    Project,
)
from labeling.services.audit import audit_record, fields_save_audited

DEFAULT_CLASS_COLORS = ["#808080", "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4"]
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def _check_color(color: str) -> str:
    if not COLOR_RE.match(color):
        raise InvalidInput(f"Colour {color!r} must look like #1f77b4.")
    return color.lower()


@transaction.atomic
def label_class_create(
    *, project: Project, name: str, color: str | None = None, countable: bool = False, by: Any | None = None
) -> LabelClass:
    name = name.strip()
    if not name:
        raise InvalidInput("A class needs a name.")
    if project.classes.filter(name=name).exists():
        raise InvalidInput(f"This project already has a class named {name!r}.")
    index = max(project.classes.values_list("index", flat=True), default=0) + 1
    if index > 255:
        raise InvalidInput("A project can have at most 255 classes.")
    if color is None:
        color = DEFAULT_CLASS_COLORS[index % len(DEFAULT_CLASS_COLORS)]
    try:
        with transaction.atomic():
            created = LabelClass.objects.create(
                project=project, name=name, color=_check_color(color), index=index, countable=countable
            )
    except IntegrityError:
        raise Conflict("Another class was added at the same time; try again.") from None
    details = {"index": index, "color": created.color, "countable": countable}
    audit_record(project=project, actor=by, action=AuditAction.CLASS_ADDED, subject=name, details=details)
    return created


@transaction.atomic
def label_class_update(
    *,
    label_class: LabelClass,
    name: str | None = None,
    color: str | None = None,
    countable: bool | None = None,
    by: Any | None = None,
) -> LabelClass:
    """Rename, recolour or (un)mark as countable; the index, which label maps use, never changes."""
    old_name = label_class.name
    before = {"name": label_class.name, "color": label_class.color, "countable": label_class.countable}
    fields = []
    if name is not None:
        name = name.strip()
        clash = label_class.project.classes.filter(name=name).exclude(pk=label_class.pk)
        if not name or clash.exists():
            raise InvalidInput(f"Class name {name!r} is empty or already used in this project.")
        label_class.name = name
        fields.append("name")
    if color is not None:
        label_class.color = _check_color(color)
        fields.append("color")
    if countable is not None:
        label_class.countable = countable
        fields.append("countable")
    fields_save_audited(
        label_class,
        before=before,
        fields=fields,
        project=label_class.project,
        actor=by,
        action=AuditAction.CLASS_CHANGED,
        subject=old_name,
    )
    return label_class


@transaction.atomic
def label_class_delete(*, label_class: LabelClass, by: Any | None = None) -> None:
    """Only a class that no label can refer to yet may go: labels are never rewritten."""
    if Annotation.objects.filter(image__project=label_class.project_id).exists():
        raise Conflict("This project already has labels, which may use this class; rename it instead.")
    details = {"index": label_class.index}
    label_class.delete()
    audit_record(
        project=label_class.project,
        actor=by,
        action=AuditAction.CLASS_REMOVED,
        subject=label_class.name,
        details=details,
    )
