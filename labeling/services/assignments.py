"""Who is asked to label which image: managers assign a selection of images to a member, or share
the images nobody has labelled or taken yet evenly among chosen annotators.

An assignment says who is asked, not who may: anyone who can label still can (co-editing stays
live), and "next needing labels" walks a person's own images first
(training/features/guidance.py). Every change is announced live (`images.assigned`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import HUMAN_KINDS, ImageStatus, ImageWork, Project, Role
from webapp import events, live


def _check_assignee(project: Project, user: Any) -> None:
    role = project.role_of(user)
    if role is None:
        raise InvalidInput(f"{user.username} is not a member of this project; invite them first.")
    if role == Role.VIEWER:
        raise InvalidInput(
            f"{user.username} is a viewer: only annotators, managers and owners can be assigned images."
        )


def _assign(project: Project, image_ids: Sequence[int], assignee: Any | None, by: Any) -> None:
    """Set the assignee of these images of the project (their work rows made where missing)."""
    now = timezone.now()
    existing = set(ImageWork.objects.filter(image_id__in=image_ids).values_list("image_id", flat=True))
    ImageWork.objects.bulk_create(
        [ImageWork(image_id=pk) for pk in image_ids if pk not in existing], ignore_conflicts=True
    )
    ImageWork.objects.filter(image_id__in=image_ids).update(
        assignee=assignee, assigned_at=now if assignee is not None else None
    )
    live.publish_on_commit(
        project.pk,
        events.ImagesAssigned(
            images=list(image_ids), assignee=assignee.username if assignee else None, by=by.username
        ),
    )


@transaction.atomic
def images_assign(*, project: Project, image_ids: Sequence[int], assignee: Any | None, by: Any) -> list[int]:
    """Assign these images to `assignee` (None: to nobody); returns their ids, in name order.

    Raises InvalidInput for an empty or too large selection, an id that is not a live image of
    the project, or an assignee who cannot label."""
    wanted = list(dict.fromkeys(image_ids))
    if not wanted:
        raise InvalidInput("Choose at least one image to assign.")
    if len(wanted) > settings.TEAM_ASSIGN_MAX_IMAGES:
        raise InvalidInput(
            f"Assign at most {settings.TEAM_ASSIGN_MAX_IMAGES} images at once (TEAM_ASSIGN_MAX_IMAGES); "
            f"this asks for {len(wanted)}."
        )
    found = list(
        selectors.images_of(project).filter(pk__in=wanted).order_by("name", "pk").values_list("pk", flat=True)
    )
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise InvalidInput(f"Not images of this project: {', '.join(map(str, missing))}.")
    if assignee is not None:
        _check_assignee(project, assignee)
    _assign(project, found, assignee, by)
    return found


@transaction.atomic
def images_share(
    *, project: Project, annotators: Sequence[Any], by: Any, count: int | None = None
) -> dict[str, list[int]]:
    """Deal the project's images that nobody has labelled or taken yet (to do, no human labels,
    no assignee), in name order, one each in turn to `annotators`, like cards: `count` of them
    (default: all, up to TEAM_ASSIGN_MAX_IMAGES). Returns user name -> image ids."""
    people = list({user.pk: user for user in annotators}.values())
    if not people:
        raise InvalidInput("Choose at least one annotator to share the images among.")
    if len(people) > settings.TEAM_SHARE_MAX_PEOPLE:
        raise InvalidInput(
            f"Share among at most {settings.TEAM_SHARE_MAX_PEOPLE} people (TEAM_SHARE_MAX_PEOPLE)."
        )
    limit = settings.TEAM_ASSIGN_MAX_IMAGES
    if count is not None and not 1 <= count <= limit:
        raise InvalidInput(f"count must be from 1 to {limit} (TEAM_ASSIGN_MAX_IMAGES).")
    for user in people:
        _check_assignee(project, user)
    free = selectors.unclaimed_images(project, HUMAN_KINDS, status=ImageStatus.TODO)
    if not free:
        raise InvalidInput("Every image has labels or an assignee already: there is nothing left to share.")
    chosen = free[: count or limit]
    shares: dict[str, list[int]] = {user.username: [] for user in people}
    for position, image_id in enumerate(chosen):
        shares[people[position % len(people)].username].append(image_id)
    for user in people:
        if shares[user.username]:
            _assign(project, shares[user.username], user, by)
    return shares


def unassign_member(*, project: Project, user: Any, by: Any | None) -> None:
    """Give back the images assigned to someone who left the project or became a viewer."""
    ids = list(
        ImageWork.objects.filter(image__project=project, assignee=user).values_list("image_id", flat=True)
    )
    if ids:
        ImageWork.objects.filter(image_id__in=ids).update(assignee=None, assigned_at=None)
        who = by.username if by is not None else "server"
        live.publish_on_commit(project.pk, events.ImagesAssigned(images=ids, assignee=None, by=who))
