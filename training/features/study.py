"""The label-efficiency study: how many labelled images does this project need?

A study trains the same run on the first 1, 2, 4, 8, ... labelled training images of the project
(by image name, so the smaller sets are inside the larger ones) up to all of them, and scores each
on the validation images. Each point is an ordinary training run (training/runs/) started with
`train_image_limit`; its score is its model version's validation pixel F1. The page plots pixel
F1 against the number of images as each point finishes, with what the last doubling added: when
that gain is small, more labels of this kind stop paying.

A study follows its runs through training/features/study_follow.py. Cancelling a study cancels
its runs that have not finished.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from labeling.errors import Conflict, InvalidInput
from labeling.models import Project
from training.features.study_follow import pixel_f1_of, state_event, train_images_of
from training.models import FINISHED_STATES, ModelVersion, RunState, Study, StudyPoint, TrainingRun
from training.runs import create, lifecycle, snapshot
from training.runs.spec import LABEL_SOURCES
from webapp import live

# Options a study sets itself, or that would train on images outside the point's first k.
RESERVED_OPTIONS = {
    "train_image_limit": "the study sets train_image_limit for each point; leave it out",
    "strategy": "a study compares plain runs on labelled images; leave strategy out",
}


def study_sizes(total: int) -> list[int]:
    """1, 2, 4, ... below `total`, then `total` itself: study_sizes(5) == [1, 2, 4, 5]."""
    sizes = []
    size = 1
    while size < total:
        sizes.append(size)
        size *= 2
    return [*sizes, total]


@dataclass(frozen=True)
class StudyPlan:
    sizes: list[int]
    train_images: int
    validation_images: int


def study_plan(*, project: Project, options: dict[str, Any]) -> StudyPlan:
    """The sizes a study with these run options would train, from the labels there are now."""
    if not isinstance(options, dict):
        raise InvalidInput("config must be a JSON object.")
    for name, why in RESERVED_OPTIONS.items():
        if name in options:
            raise InvalidInput(f"config.{name}: {why}.")
    images = snapshot.labelled_images(project=project, options=options)
    if not images.validation:
        raise InvalidInput(
            "A study scores every point on the validation images, and none has a dense mask: "
            "give at least one image a dense mask and put it in the validation split."
        )
    if len(images.train) < 2:
        raise InvalidInput(
            f"A study needs at least 2 labelled training images to compare; this project has "
            f"{len(images.train)} with {', '.join(options.get('label_sources', LABEL_SOURCES))} labels."
        )
    return StudyPlan(
        sizes=study_sizes(len(images.train)),
        train_images=len(images.train),
        validation_images=len(images.validation),
    )


def study_create(*, project: Project, user: Any, options: dict[str, Any]) -> Study:
    """One run per size, smallest first (so the curve grows from the left), all in one
    transaction: a run that run_create refuses leaves no study and no run behind."""
    plan = study_plan(project=project, options=options)
    with transaction.atomic():
        study = Study.objects.create(project=project, created_by=user, config=options, sizes=plan.sizes)
        for size in plan.sizes:
            run = create.run_create(
                project=project, user=user, options={**options, "train_image_limit": size}
            )
            StudyPoint.objects.create(study=study, size=size, run=run)
        live.publish_on_commit(project.pk, state_event(study))
    return study


def study_cancel(*, study: Study) -> Study:
    """Cancel the study's unfinished runs, queued ones first (so no worker starts them meanwhile)."""
    if study.state in FINISHED_STATES:
        raise Conflict(f"This study has already {study.state}.")
    unfinished = list(
        TrainingRun.objects.filter(study_point__study=study, state__in=[RunState.QUEUED, RunState.RUNNING])
    )
    for run in sorted(unfinished, key=lambda run: run.state != RunState.QUEUED):
        with contextlib.suppress(Conflict):  # it finished in the meantime: its point stays
            lifecycle.run_cancel(run=run)
    # Each cancel moved the study on already (study_run_changed); this also catches up a study
    # whose last update was lost with its process.
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        changed = locked.follow_runs()
    if changed:
        live.publish(locked.project_id, state_event(locked))
    return locked


# Reading a study -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    size: int
    run: int
    state: str
    model_version: int | None
    pixel_f1: float | None
    train_images: int | None  # how many images the model version says it trained on


@dataclass(frozen=True)
class Gain:
    """What going from `smaller` to `larger` labelled images added to the validation pixel F1."""

    smaller: int
    larger: int
    pixel_f1: float


def study_points(study: Study) -> list[Point]:
    points = list(study.points.select_related("run").order_by("size"))
    versions = {
        run_id: (pk, metrics)
        for run_id, pk, metrics in ModelVersion.objects.filter(
            run_id__in=[point.run_id for point in points]
        ).values_list("run_id", "pk", "metrics")
    }
    out = []
    for point in points:
        version, metrics = versions.get(point.run_id, (None, None))
        out.append(
            Point(
                size=point.size,
                run=point.run_id,
                state=point.run.state,
                model_version=version,
                pixel_f1=pixel_f1_of(metrics),
                train_images=train_images_of(metrics),
            )
        )
    return out


def last_gain(points: list[Point]) -> Gain | None:
    """The gain from the scored size just below the largest scored size to that one."""
    scored = sorted((point.size, point.pixel_f1) for point in points if point.pixel_f1 is not None)
    if len(scored) < 2:
        return None
    (smaller, low), (larger, high) = scored[-2:]
    return Gain(smaller=smaller, larger=larger, pixel_f1=round(high - low, 6))
