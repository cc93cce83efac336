"""Who may see and do what. Every lookup goes through the user's own projects, so a stranger
gets 404 by construction; a member whose role is too low gets 403."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, PermissionDenied

from labeling.models import ROLE_RANK, Annotation, Image, Invitation, Membership, Project, Role
from labeling.selectors import invitations_for, pending_invitations, projects_for


def require_role(user: Any, project: Project, needs: Role) -> Role:
    membership = Membership.objects.filter(user=user, project=project).first()
    if membership is None:
        raise NotFound("No such project.")
    if not membership.allows(needs):
        raise PermissionDenied(
            f"This needs the {needs.label.lower()} role or higher; you are "
            f"{Role(membership.role).label.lower()} in this project."
        )
    return Role(membership.role)


def project_for(user: Any, project_id: Any, *, needs: Role = Role.VIEWER) -> Project:
    project = projects_for(user).filter(pk=_pk(project_id)).first()
    if project is None:
        raise NotFound("No such project.")
    require_role(user, project, needs)
    return project


def image_for(user: Any, image_id: Any, *, needs: Role = Role.VIEWER) -> Image:
    image = (
        Image.objects.filter(project__in=projects_for(user), archived_at__isnull=True)
        .select_related("project")
        .filter(pk=_pk(image_id))
        .first()
    )
    if image is None:
        raise NotFound("No such image.")
    require_role(user, image.project, needs)
    return image


def annotation_for(user: Any, annotation_id: Any, *, needs: Role = Role.VIEWER) -> Annotation:
    annotation = (
        # An archived image's labels go with it: read and written through the image only.
        Annotation.objects.filter(image__project__in=projects_for(user), image__archived_at__isnull=True)
        .select_related("image__project", "label_class")
        .filter(pk=_pk(annotation_id))
        .first()
    )
    if annotation is None:
        raise NotFound("No such annotation.")
    require_role(user, annotation.image.project, needs)
    return annotation


def invitation_for(user: Any, invitation_id: Any) -> Invitation:
    """A pending invitation addressed to the user; everyone else's is 404, as if it did not exist."""
    invitation = invitations_for(user).filter(pk=_pk(invitation_id)).first()
    if invitation is None:
        raise NotFound("No such invitation: it may have been answered, withdrawn or have lapsed.")
    return invitation


def project_invitation_for(user: Any, project_id: Any, invitation_id: Any) -> Invitation:
    """A pending invitation of a project the user owns."""
    project = project_for(user, project_id, needs=Role.OWNER)
    invitation = pending_invitations(project.invitations.all()).filter(pk=_pk(invitation_id)).first()
    if invitation is None:
        raise NotFound("No such pending invitation in this project.")
    return invitation


def can(role: Role | None, needs: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needs]


def _pk(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound("No such object.") from None
