"""A label-efficiency study follows its runs (training/features/study.py has the rest).

Every state a point's run publishes (runs/lifecycle.py publish_state) comes here: the page gets a
`study.point` event, and the study takes the state its runs add up to (`study.state` when it
changes). Apart from study.py because the lifecycle calls it and study.py creates runs: one module
each way, no circle.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from training.models import ModelVersion, Study, StudyPoint, TrainingRun
from webapp import events, live


def study_run_changed(*, run: TrainingRun, model_version: int | None) -> None:
    """Called by publish_state (after commit) with every state a run reaches."""
    point = StudyPoint.objects.filter(run_id=run.pk).first()
    if point is None:
        return
    metrics = None
    if model_version is not None:
        metrics = ModelVersion.objects.filter(pk=model_version).values_list("metrics", flat=True).first()
    live.publish(
        run.project_id,
        events.StudyPoint(
            study=point.study_id,
            size=point.size,
            run=run.pk,
            state=run.state,
            model_version=model_version,
            pixel_f1=pixel_f1_of(metrics),
            train_images=train_images_of(metrics),
        ),
    )
    # Two workers may finish two points at once: the lock makes one of them see both.
    with transaction.atomic():
        study = Study.objects.select_for_update().filter(pk=point.study_id).first()
        changed = study is not None and study.follow_runs()
    if study is not None and changed:
        live.publish(run.project_id, state_event(study))


def state_event(study: Study) -> events.StudyState:
    return events.StudyState(study=study.pk, state=study.state, sizes=study.sizes)


def pixel_f1_of(metrics: dict[str, Any] | None) -> float | None:
    """A model version's best validation pixel F1 (runs/execute.py stores it); None before."""
    value = ((metrics or {}).get("validation") or {}).get("pixel_f1")
    return float(value) if isinstance(value, int | float) else None


def train_images_of(metrics: dict[str, Any] | None) -> int | None:
    """How many images a model version trained on (its metrics list them); None before."""
    images = (metrics or {}).get("train_images")
    return len(images) if isinstance(images, list) else None
