"""Projects and their members: create, rename, archive; add, change and remove members.

Each change of a member or a setting is recorded in the project's audit list with who made it
(`by`; None for the server itself, a management command)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from labeling.errors import InvalidInput
from labeling.models import (
    AuditAction,
    LabelClass,
    Membership,
    Project,
    Role,
)
from labeling.services.assignments import unassign_member
from labeling.services.audit import audit_record, fields_save_audited
from webapp import events, live


@transaction.atomic
def project_create(*, name: str, owner: Any, description: str = "") -> Project:
    """A new project owned by `owner`, with the background class (index 1) already in it."""
    name = name.strip()
    if not name:
        raise InvalidInput("A project needs a name.")
    project = Project.objects.create(name=name, description=description, created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    LabelClass.objects.create(project=project, name="background", color="#808080", index=1)
    audit_record(project=project, actor=owner, action=AuditAction.PROJECT_CREATED, subject=name)
    return project


@transaction.atomic
def project_update(
    *, project: Project, name: str | None = None, description: str | None = None, by: Any | None = None
) -> Project:
    before = {"name": project.name, "description": project.description}
    fields = []
    if name is not None:
        if not name.strip():
            raise InvalidInput("A project needs a name.")
        project.name = name.strip()
        fields.append("name")
    if description is not None:
        project.description = description
        fields.append("description")
    fields_save_audited(
        project,
        before=before,
        fields=fields,
        project=project,
        actor=by,
        action=AuditAction.PROJECT_CHANGED,
        subject=project.name,
    )
    return project


@transaction.atomic
def project_archive(*, project: Project, by: Any | None = None) -> None:
    """Hide a project; its images and labels stay in the database and can be brought back."""
    project.archived_at = timezone.now()
    project.save(update_fields=["archived_at"])
    audit_record(project=project, actor=by, action=AuditAction.PROJECT_ARCHIVED, subject=project.name)


@transaction.atomic
def membership_set(*, project: Project, user: Any, role: str, by: Any | None = None) -> Membership:
    """Add `user` to the project with `role`, or change the role they have.

    A member who becomes a viewer gives back the images assigned to them: viewers do not label."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        membership = Membership.objects.create(project=project, user=user, role=role)
        audit_record(
            project=project,
            actor=by,
            action=AuditAction.MEMBER_ADDED,
            subject=user.username,
            details={"role": role},
        )
        return membership
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER:
        _keep_an_owner(project, leaving=membership)
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        project=project,
        actor=by,
        action=AuditAction.MEMBER_ROLE_CHANGED,
        subject=user.username,
        details={"role": {"from": previous, "to": role}},
    )
    if role == Role.VIEWER:
        unassign_member(project=project, user=user, by=by)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by: Any | None = None) -> None:
    """Remove a member; the images assigned to them go back to nobody (their labels stay theirs)."""
    if membership.role == Role.OWNER:
        _keep_an_owner(membership.project, leaving=membership)
    project, user, role = membership.project, membership.user, membership.role
    membership.delete()
    audit_record(
        project=project,
        actor=by,
        action=AuditAction.MEMBER_REMOVED,
        subject=user.username,
        details={"role": role},
    )
    unassign_member(project=project, user=user, by=by)
    # Their open sockets stop streaming the project (the consumer closes them on this event).
    live.publish_on_commit(project.pk, events.MemberRemoved(user=user.username))


def _keep_an_owner(project: Project, *, leaving: Membership) -> None:
    others = project.memberships.filter(role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.exists():
        raise InvalidInput("A project must keep at least one owner; make someone else owner first.")
