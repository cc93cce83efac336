"""Projects and their members: create, rename, archive; add, change and remove members."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from labeling.errors import InvalidInput
from labeling.models import (
    LabelClass,
    Membership,
    Project,
    Role,
)


@transaction.atomic
def project_create(*, name: str, owner: Any, description: str = "") -> Project:
    """A new project owned by `owner`, with the background class (index 1) already in it."""
    name = name.strip()
    if not name:
        raise InvalidInput("A project needs a name.")
    project = Project.objects.create(name=name, description=description, created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    LabelClass.objects.create(project=project, name="background", color="#808080", index=1)
    return project


def project_update(*, project: Project, name: str | None = None, description: str | None = None) -> Project:
    fields = []
    if name is not None:
        if not name.strip():
            raise InvalidInput("A project needs a name.")
        project.name = name.strip()
        fields.append("name")
    if description is not None:
        project.description = description
        fields.append("description")
    if fields:
        project.save(update_fields=fields)
    return project


def project_archive(*, project: Project) -> None:
    """Hide a project; its images and labels stay in the database and can be brought back."""
    project.archived_at = timezone.now()
    project.save(update_fields=["archived_at"])


@transaction.atomic
def membership_set(*, project: Project, user: Any, role: str) -> Membership:
    """Add `user` to the project with `role`, or change the role they have."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        return Membership.objects.create(project=project, user=user, role=role)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(project, leaving=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    if membership.role == Role.OWNER:
        _keep_an_owner(membership.project, leaving=membership)
    membership.delete()


def _keep_an_owner(project: Project, *, leaving: Membership) -> None:
    others = project.memberships.filter(role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.exists():
        raise InvalidInput("A project must keep at least one owner; make someone else owner first.")
