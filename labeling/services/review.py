"""Moving an image through review, by the rules of labeling/workflow.py, and what a person's label
save does to its status.

Each move locks the image's work row, checks the rules against the image's status, assignee and
the person's role, stores the new status with a StatusChange (the image's review history) and
announces it live (`image.status`) once committed. Approving freezes the versions of the image's
human label layers (what approved-only training learns from); sending an image back drops them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from labeling import selectors, workflow
from labeling.errors import InvalidInput
from labeling.models import (
    HUMAN_KINDS,
    AnnotationKind,
    Comment,
    Image,
    ImageStatus,
    ImageWork,
    Role,
    StatusChange,
)
from labeling.services.comments import comment_add
from labeling.workflow import Move, Situation
from webapp import events, live

# The label layers a person makes, which review is about (derived pseudo-masks are a generator's).
REVIEWED_KINDS = frozenset({*HUMAN_KINDS, AnnotationKind.POINTS})


def _work_for_update(image: Image) -> ImageWork:
    """The image's work row, made if missing, locked until the transaction ends."""
    ImageWork.objects.get_or_create(image=image)
    return ImageWork.objects.select_for_update(of=("self",)).select_related("assignee").get(image=image)


def _submitter(image: Image) -> str | None:
    last = image.status_changes.filter(status=ImageStatus.SUBMITTED).select_related("by").last()
    return last.by.username if last is not None else None


def _situation(image: Image, work: ImageWork, user: Any, role: Role) -> Situation:
    status = ImageStatus(work.status)
    return Situation(
        image=image.name,
        status=status,
        role=role,
        user=user.username,
        assignee=work.assignee.username if work.assignee is not None else None,
        submitter=_submitter(image) if status == ImageStatus.SUBMITTED else None,
    )


@transaction.atomic
def image_move(
    *,
    image: Image,
    user: Any,
    move: str,
    comment: str = "",
    x: float | None = None,
    y: float | None = None,
) -> ImageWork:
    """Submit, withdraw, approve or send back (`request_changes`, with a comment pinned at x, y or
    on the whole image) one image. Raises NotAllowed (403), Conflict (409) or InvalidInput (400)
    with what is wrong; nothing is stored then."""
    try:
        asked = Move(move)
    except ValueError:
        asked = None
    if asked not in workflow.REQUESTED_MOVES:
        names = ", ".join(workflow.REQUESTED_MOVES)
        raise InvalidInput(f"Unknown move {move!r}; use one of {names} (labelling an image starts it).")
    assert asked is not None
    role = image.project.role_of(user) or Role.VIEWER
    work = _work_for_update(image)
    target = workflow.check_move(asked, _situation(image, work, user, role), comment=comment)
    note = (
        comment_add(image=image, author=user, body=comment, x=x, y=y)
        if asked == Move.REQUEST_CHANGES
        else None
    )
    if asked == Move.SUBMIT and work.assignee is None:  # an unassigned image becomes the submitter's
        work.assignee, work.assigned_at = user, timezone.now()
    if asked == Move.APPROVE:
        work.approved_layers = selectors.human_layer_versions(image, REVIEWED_KINDS)
    elif target != ImageStatus.APPROVED:
        work.approved_layers = []
    _record(image, work, asked, target, user, note)
    return work


def label_save_effect(*, image: Image, author: Any) -> ImageStatus | None:
    """Inside the transaction of a person's label save, before anything is written: refuse it
    (Locked, 423) for an annotator on a submitted or approved image; else the status the save moves
    the image to (in progress, from to do or sent back), or None. `label_save_recorded` records it
    once the save is in, so the labels' event goes out before the status's."""
    # A save with no member behind it (a management command) is the server's: never refused.
    role = image.project.role_of(author) or Role.OWNER
    return workflow.label_save_effect(_situation(image, _work_for_update(image), author, role))


def label_save_recorded(*, image: Image, author: Any, target: ImageStatus) -> None:
    _record(image, _work_for_update(image), Move.START, target, author, None)


def _record(
    image: Image, work: ImageWork, move: Move, target: ImageStatus, by: Any, note: Comment | None
) -> None:
    previous = work.status
    work.status, work.status_at = target, timezone.now()
    work.save(update_fields=["status", "status_at", "assignee", "assigned_at", "approved_layers"])
    StatusChange.objects.create(
        image=image, action=move, previous=previous, status=target, by=by, comment=note
    )
    live.publish_on_commit(
        image.project_id,
        events.ImageStatusChanged(
            image=image.pk,
            name=image.name,
            status=str(target),
            previous=str(previous),
            move=str(move),
            by=by.username,
            assignee=work.assignee.username if work.assignee is not None else None,
            comment=note.pk if note is not None else None,
            note=note.body if note is not None else "",
        ),
    )
