"""Dramatiq actors of the training app: ids in, one plain function each, nothing else here.

Each actor's body is a function of its own module, so actors can be sent by name from anywhere
(webapp/jobs.py lists them with their queues) without importing this module, which loads PyTorch.
Messages arrive at least once: every body is idempotent.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from training.features import instant, pseudo, teacher
from training.predict import job as prediction_job
from training.runs import execute
from webapp.jobs import queue_of

HOUR_MS = 3600 * 1000


@dramatiq.actor(queue_name=queue_of("train_run"), max_retries=0, time_limit=72 * HOUR_MS)
def train_run(run_id: int) -> None:
    """Train a queued run (training/runs/execute.py). A failed run is not retried: it says why."""
    execute.run_execute(run_id)


@dramatiq.actor(queue_name=queue_of("predict_images"), max_retries=3, time_limit=48 * HOUR_MS)
def predict_images(job_id: int) -> None:
    """A prediction job: its images not yet predicted by its version (training/predict/job.py).
    Retried: a retry, or the message redelivered after its worker died, carries on."""
    prediction_job.job_run(job_id)


@dramatiq.actor(queue_name=queue_of("derive_pseudo_masks"), max_retries=3, time_limit=2 * HOUR_MS)
def derive_pseudo_masks(model_version_id: int, author_id: int, max_uncertainty: float) -> None:
    """Confident predictions of a model version -> derived layers (training/features/pseudo.py)."""
    pseudo.derive_job(model_version_id, author_id, max_uncertainty)


@dramatiq.actor(queue_name=queue_of("apply_fluorescence_teacher"), max_retries=3, time_limit=4 * HOUR_MS)
def apply_fluorescence_teacher(
    job: str,
    project_id: int,
    author_id: int,
    channel: str,
    params: dict[str, Any],
    class_index: int,
    image_ids: list[int] | None,
) -> None:
    """Teacher pseudo-masks for a project's images (training/features/teacher.py)."""
    teacher.apply_job(job, project_id, author_id, channel, params, class_index, image_ids)


@dramatiq.actor(
    queue_name=queue_of("instant_preview"),
    max_retries=0,
    max_age=instant.MAX_AGE_MS,
    time_limit=instant.TIME_LIMIT_MS,
)
def instant_preview(image_id: int, seq: int) -> None:
    """The instant preview of an image for request `seq` (training/features/instant.py)."""
    instant.preview_job(image_id, seq)
