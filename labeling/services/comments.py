"""Comments on images: pinned to a point or to the whole image, in threads, resolved when done.

Every member reads them; annotators, managers and owners write and resolve (the views check the
role). A new comment and a resolved thread are announced live to everyone on the project, so the
person on that image sees it at once.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling.errors import InvalidInput
from labeling.models import Comment, Image
from webapp import events, live


def _check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidInput("A comment needs some text.")
    if len(body) > settings.TEAM_COMMENT_MAX_CHARS:
        raise InvalidInput(
            f"A comment is at most {settings.TEAM_COMMENT_MAX_CHARS} characters (TEAM_COMMENT_MAX_CHARS); "
            f"this one has {len(body)}."
        )
    return body


def _check_point(image: Image, x: float | None, y: float | None) -> tuple[float | None, float | None]:
    if (x is None) != (y is None):
        raise InvalidInput("Pin a comment with both x and y, or with neither for the whole image.")
    if x is not None and y is not None and not (0 <= x < image.width and 0 <= y < image.height):
        raise InvalidInput(f"The point ({x:g}, {y:g}) lies outside the image ({image.width}x{image.height}).")
    return x, y


@transaction.atomic
def comment_add(
    *,
    image: Image,
    author: Any,
    body: str,
    x: float | None = None,
    y: float | None = None,
    parent: Comment | None = None,
) -> Comment:
    """A new thread on the image (at a point, or on the whole image), or a reply to `parent`'s thread.

    A reply joins the thread of the comment it answers and takes no point of its own; replying
    reopens a resolved thread."""
    body = _check_body(body)
    if parent is not None:
        if parent.image_id != image.pk:
            raise InvalidInput("Reply on the image the comment is on.")
        if x is not None or y is not None:
            raise InvalidInput("A reply takes the point of its thread; leave out x and y.")
        root = parent.parent or parent
        if root.resolved_at is not None:
            Comment.objects.filter(pk=root.pk).update(resolved_at=None, resolved_by=None)
    else:
        root = None
        x, y = _check_point(image, x, y)
    comment = Comment.objects.create(image=image, parent=root, author=author, body=body, x=x, y=y)
    live.publish_on_commit(
        image.project_id,
        events.CommentAdded(
            comment=comment.pk,
            thread=root.pk if root else comment.pk,
            image=image.pk,
            image_name=image.name,
            author=author.username,
            body=body,
            x=x,
            y=y,
        ),
    )
    return comment


@transaction.atomic
def comment_resolve(*, comment: Comment, by: Any, resolved: bool = True) -> Comment:
    """Resolve (or reopen) the thread the comment belongs to; returns the thread's first comment."""
    root = comment.parent or comment
    root.resolved_at = timezone.now() if resolved else None
    root.resolved_by = by if resolved else None
    root.save(update_fields=["resolved_at", "resolved_by"])
    live.publish_on_commit(
        root.image.project_id,
        events.CommentResolved(comment=root.pk, image=root.image_id, resolved=resolved, by=by.username),
    )
    return root
