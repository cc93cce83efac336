"""Queued work sent again after the broker lost its messages (a Redis restarted without its data).

The database is the record of what is queued; the broker only carries the message that wakes a
worker. A Redis that restarts empty has forgotten every queued message, so the runs and prediction
jobs still queued in the database would wait for ever. Redis holds a mark that only a restart
empties; the first worker sweep that finds the mark gone sets it again (one worker wins the SETNX)
and sends a message for each queued run and prediction job. A message too many is harmless: a
run's worker claims it only while it is queued, and a job's only while it is not finished.
With RabbitMQ (BROKER_URL=amqp://...) the durable queues keep their messages; nothing is resent.
"""

from __future__ import annotations

import time

from django.conf import settings

from training.models import PredictionJob, RunState, TrainingRun
from webapp import jobs

MARK = "lesslabel:broker:alive"


def resend_if_broker_emptied() -> dict[str, list[int]]:
    """Send queued runs and prediction jobs again if the Redis broker lost its data; what was sent."""
    if settings.BROKER_URL != settings.REDIS_URL:  # a separate (durable) broker keeps its queues
        return {}
    redis = jobs.redis_client()
    if redis.exists(MARK):
        return {}
    # Read first, mark after: a sweep that fails here (tables not made yet) leaves the mark unset,
    # so the next sweep tries again.
    runs = list(
        TrainingRun.objects.filter(state=RunState.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    predictions = list(
        PredictionJob.objects.filter(state=RunState.QUEUED).order_by("pk").values_list("pk", flat=True)
    )
    if not redis.set(MARK, str(time.time()), nx=True):
        return {}
    for run_id in runs:
        jobs.send("train_run", run_id)
    for job_id in predictions:
        jobs.send("predict_images", job_id)
    return {"runs": runs, "prediction_jobs": predictions} if runs or predictions else {}
