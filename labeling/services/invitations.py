"""Invitations: the only way someone joins a project is by accepting an owner's offer.

An owner invites a user name with a role. The invitation is made whether or not a user of that
name exists, and the answer is the same either way, so inviting tells nobody which names exist;
the project's pending list shows what was typed, existing or not. Only the user of that name
sees it (`selectors.invitations_for`) and may accept it, which makes them a member with the
invited role, or decline it; owners withdraw pending ones. An invitation lapses after
INVITATION_TTL_DAYS, and at most INVITATIONS_PENDING_MAX wait in one project at a time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling.errors import Conflict, InvalidInput
from labeling.models import AuditAction, Invitation, Membership, Project, Role
from labeling.services.audit import audit_record
from labeling.services.projects import membership_set


@transaction.atomic
def invitation_create(*, project: Project, username: str, role: str, by: Any | None) -> Invitation:
    """Invite `username` to the project as `role`; 409 if that name is a member or already invited.

    Both refusals are about what the owner already sees (the member list, the pending list),
    so they tell nothing about names outside the project."""
    username = username.strip()
    if not username:
        raise InvalidInput("Name the user to invite.")
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    # One invitation of a project at a time, so two at once cannot both pass the checks below.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    now = timezone.now()
    project.invitations.filter(expires_at__lte=now).delete()
    if project.memberships.filter(user__username=username).exists():
        raise Conflict(
            f"{username} is already a member of this project; change their role in the member list."
        )
    pending = project.invitations.filter(username=username).first()
    if pending is not None:
        raise Conflict(
            f"{username} already has a pending invitation as {pending.role} (until "
            f"{pending.expires_at:%Y-%m-%d}); withdraw it first to invite them with another role."
        )
    waiting = project.invitations.count()
    if waiting >= settings.INVITATIONS_PENDING_MAX:
        raise InvalidInput(
            f"This project already has {waiting} pending invitations, the most allowed "
            "(INVITATIONS_PENDING_MAX); withdraw some, or wait until they are answered or lapse."
        )
    invitation = Invitation.objects.create(
        project=project,
        username=username,
        role=role,
        invited_by=by if getattr(by, "is_authenticated", False) else None,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit_record(
        project=project, actor=by, action=AuditAction.MEMBER_INVITED, subject=username, details={"role": role}
    )
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: Any) -> Membership:
    """The invitee joins with the invited role (a member already keeps the role they have)."""
    invitation = _still_pending(invitation)
    project = invitation.project
    invitation.delete()
    membership = project.memberships.filter(user=user).first()
    if membership is not None:
        return membership
    return membership_set(project=project, user=user, role=invitation.role, by=user)


def invitation_decline(*, invitation: Invitation, user: Any) -> None:
    _end(invitation, actor=user, action=AuditAction.INVITATION_DECLINED)


def invitation_withdraw(*, invitation: Invitation, by: Any | None) -> None:
    _end(invitation, actor=by, action=AuditAction.INVITATION_WITHDRAWN)


@transaction.atomic
def _end(invitation: Invitation, *, actor: Any | None, action: AuditAction) -> None:
    """A pending invitation gone, declined or withdrawn, and the audit entry that says which."""
    invitation = _still_pending(invitation)
    invitation.delete()
    audit_record(
        project=invitation.project,
        actor=actor,
        action=action,
        subject=invitation.username,
        details={"role": invitation.role},
    )


def _still_pending(invitation: Invitation) -> Invitation:
    """The invitation locked, unless someone answered or withdrew it since it was looked up."""
    locked = (
        Invitation.objects.select_for_update()
        .select_related("project")
        .filter(pk=invitation.pk, expires_at__gt=timezone.now())
        .first()
    )
    if locked is None:
        raise Conflict("This invitation was answered, withdrawn or has lapsed meanwhile; reload the list.")
    return locked
