"""Reads of the team workflow for labeling's own views and progress report: comments, the review
queue, review histories, the audit list, and the rows progress is counted from. (What the training
app reads of it, review status and approved layers, is in labeling/selectors.py.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from labeling.models import (
    AnnotationRevision,
    AuditEntry,
    Comment,
    Image,
    ImageStatus,
    ImageWork,
    Project,
    StatusChange,
)


def threads_on(image: Image) -> QuerySet[Comment]:
    """The image's threads (their first comments, oldest first), each with its replies."""
    replies = Prefetch(
        "replies", queryset=Comment.objects.select_related("author").order_by("created_at", "pk")
    )
    return (
        Comment.objects.filter(image=image, parent__isnull=True)
        .select_related("author", "resolved_by", "image")
        .prefetch_related(replies)
    )


def project_threads(project: Project, *, resolved: bool | None = None) -> QuerySet[Comment]:
    """The threads on the project's live images, newest first; `resolved` False: the open ones."""
    threads = Comment.objects.filter(
        image__project=project, image__archived_at__isnull=True, parent__isnull=True
    ).select_related("author", "resolved_by", "image")
    if resolved is not None:
        threads = threads.filter(resolved_at__isnull=not resolved)
    replies = Prefetch(
        "replies", queryset=Comment.objects.select_related("author").order_by("created_at", "pk")
    )
    return threads.prefetch_related(replies).order_by("-created_at", "-pk")


def comment_in(project_ids: QuerySet[Project], comment_id: int) -> Comment | None:
    """The comment of this id on a live image of one of these projects."""
    return (
        Comment.objects.filter(image__project__in=project_ids, image__archived_at__isnull=True, pk=comment_id)
        .select_related("image__project", "parent")
        .first()
    )


@dataclass(frozen=True)
class Waiting:
    """A submitted image in the review queue."""

    image: int
    name: str
    submitted_by: str | None
    submitted_at: datetime | None
    assignee: str | None


def review_queue(project: Project) -> list[Waiting]:
    """The project's submitted images, longest waiting first."""
    works = (
        ImageWork.objects.filter(
            image__project=project, image__archived_at__isnull=True, status=ImageStatus.SUBMITTED
        )
        .select_related("image", "assignee")
        .order_by("status_at", "image__name", "pk")
    )
    submitters = _last_submitters([work.image_id for work in works])
    return [
        Waiting(
            image=work.image_id,
            name=work.image.name,
            submitted_by=submitters.get(work.image_id),
            submitted_at=work.status_at,
            assignee=work.assignee.username if work.assignee else None,
        )
        for work in works
    ]


def _last_submitters(image_ids: list[int]) -> dict[int, str]:
    changes = StatusChange.objects.filter(image_id__in=image_ids, status=ImageStatus.SUBMITTED).order_by(
        "at", "pk"
    )
    return {image: name for image, name in changes.values_list("image_id", "by__username")}


def status_history(image: Image) -> QuerySet[StatusChange]:
    return image.status_changes.select_related("by", "comment").order_by("at", "pk")


def audit_entries(project: Project) -> QuerySet[AuditEntry]:
    return project.audit_entries.select_related("actor").order_by("-at", "-pk")


# Progress -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    image: int
    status: str
    assignee: str | None


def work_items(project: Project) -> list[WorkItem]:
    """Every live image of the project with its review status and assignee (to do, nobody: no row)."""
    rows = (
        Image.objects.filter(project=project, archived_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "work__status", "work__assignee__username")
    )
    return [WorkItem(pk, status or ImageStatus.TODO, assignee) for pk, status, assignee in rows]


def members(project: Project) -> list[tuple[str, str]]:
    """(user name, role) of each member, by name."""
    rows = project.memberships.select_related("user").order_by("user__username")
    return [(row.user.username, row.role) for row in rows]


def revision_times(project: Project, kinds: Iterable[str]) -> dict[str, list[datetime]]:
    """user name -> when they saved each revision of these kinds on the project's images, in order."""
    rows = (
        AnnotationRevision.objects.filter(
            annotation__image__project=project, annotation__kind__in=list(kinds)
        )
        .order_by("created_at")
        .values_list("author__username", "created_at")
    )
    times: dict[str, list[datetime]] = {}
    for user, at in rows:
        times.setdefault(user, []).append(at)
    return times
