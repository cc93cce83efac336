"""The audit list: who changed a project's members or settings, what and when.

The services that make such changes (projects.py, classes.py) record them here in their own
transaction, so an entry exists exactly when the change does. Owners read the list
(GET /api/projects/<id>/audit/).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from labeling.models import AuditAction, AuditEntry, Project


def audit_record(
    *,
    project: Project,
    actor: Any | None,
    action: AuditAction,
    subject: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record one change; `actor` None is the server itself (a management command)."""
    return AuditEntry.objects.create(
        project=project,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        subject=subject[:200],
        details=details or {},
    )


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{"name": {"from": old, "to": new}, ...} for the fields whose value changed."""
    return {key: {"from": before[key], "to": after[key]} for key in after if before.get(key) != after[key]}


def fields_save_audited(
    instance: Model,
    *,
    before: dict[str, Any],
    fields: list[str],
    project: Project,
    actor: Any | None,
    action: AuditAction,
    subject: str,
) -> None:
    """Save `fields` of `instance` (nothing when there are none) and record those whose value
    differs from `before`, so setting a field to what it was leaves no entry."""
    if not fields:
        return
    instance.save(update_fields=fields)
    changed = changes(before, {field: getattr(instance, field) for field in fields})
    if changed:
        audit_record(project=project, actor=actor, action=action, subject=subject, details=changed)
