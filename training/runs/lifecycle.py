"""A run's lifecycle, as the workers move it: queued -> running -> succeeded | failed | cancelled.

Workers prove they are alive with a heartbeat; a run whose heartbeat stops (worker killed, out of
memory, machine lost) is marked failed by `sweep_stale_runs` within RUN_STALE_SECONDS, and its
message, if the broker delivers it again, finds the run finished and does nothing. Failed runs are
not re-queued: the person who started one sees why it failed and starts it again, so a run that
kills its worker cannot loop. Every state a run reaches is published (`run.state`) after commit,
and a run that is a point of a label-efficiency study moves its study on.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from labeling.errors import Conflict
from training.features.study_follow import study_run_changed
from training.models import FINISHED_STATES, ModelVersion, RunState, TrainingRun
from webapp import events, live
from webapp.jobs import redis_client

log = logging.getLogger(__name__)


def cancel_key(run_id: int) -> str:
    """The Redis key a cancel sets; the training loop reads it every step (the database is the record)."""
    return f"lesslabel:run:{run_id}:cancel"


def run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops within one training step."""
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if locked.state in FINISHED_STATES:
            raise Conflict(f"This run has already {locked.state}.")
        locked.cancel_requested = True
        fields = ["cancel_requested"]
        if locked.state == RunState.QUEUED:
            locked.state, locked.finished_at = RunState.CANCELLED, timezone.now()
            fields += ["state", "finished_at"]
        locked.save(update_fields=fields)
    if locked.state == RunState.RUNNING:
        redis_client().set(cancel_key(locked.pk), 1, ex=7 * 24 * 3600)
    publish_state(locked)
    return locked


def claim(run_id: int, worker: str) -> TrainingRun | None:
    """Move a queued run to running for this worker; None if it is not queued (any more)."""
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=now, heartbeat_at=now, worker=worker
    )
    if not claimed:
        return None
    run = TrainingRun.objects.get(pk=run_id)
    publish_state(run)
    return run


def heartbeat(run_id: int) -> bool:
    """Record that the run's worker is alive; True if a cancel was asked for."""
    TrainingRun.objects.filter(pk=run_id, state=RunState.RUNNING).update(heartbeat_at=timezone.now())
    return TrainingRun.objects.filter(pk=run_id, cancel_requested=True).exists()


def finish(run: TrainingRun, state: RunState, *, error: str = "") -> bool:
    """Record how a running run ended; False if it had already been ended (for example swept)."""
    updated = TrainingRun.objects.filter(pk=run.pk, state=RunState.RUNNING).update(
        state=state, error=error, finished_at=timezone.now()
    )
    run.refresh_from_db()
    if updated:
        transaction.on_commit(lambda: publish_state(run))
        try:
            redis_client().delete(cancel_key(run.pk))
        except redis.RedisError:  # the key expires on its own; the run's end is what counts
            log.warning("could not clear the cancel flag of run %s: Redis is unreachable", run.pk)
    return bool(updated)


def sweep_stale_runs() -> list[int]:
    """Mark failed every running run whose worker stopped sending heartbeats."""
    limit = timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS)
    stale = list(
        TrainingRun.objects.filter(state=RunState.RUNNING).filter(
            Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True)
        )
    )
    swept = []
    for run in stale:
        last = run.heartbeat_at.isoformat(timespec="seconds") if run.heartbeat_at else "never"
        error = (
            f"The worker {run.worker or '(unknown)'} stopped responding (last heartbeat {last}): it was "
            "killed, ran out of memory or lost its machine. Nothing it had half-written was kept; "
            "start the run again."
        )
        if finish(run, RunState.FAILED, error=error):
            swept.append(run.pk)
    return swept


def queue_position(run: TrainingRun) -> int | None:
    """1 for the next run a gpu worker takes, across all projects; None unless queued."""
    if run.state != RunState.QUEUED:
        return None
    ahead = TrainingRun.objects.filter(state=RunState.QUEUED).filter(
        Q(created_at__lt=run.created_at) | Q(created_at=run.created_at, pk__lt=run.pk)
    )
    return ahead.count() + 1


def publish_state(run: TrainingRun) -> None:
    version = ModelVersion.objects.filter(run=run).values_list("pk", flat=True).first()
    live.publish(
        run.project_id,
        events.RunState(
            run=run.pk,
            state=run.state,
            queue_position=queue_position(run),
            error=run.error,
            started_at=run.started_at.isoformat() if run.started_at else None,
            finished_at=run.finished_at.isoformat() if run.finished_at else None,
            model_version=version,
        ),
    )
    study_run_changed(run=run, model_version=version)


class Heartbeat:
    """A thread that marks the run alive every RUN_HEARTBEAT_SECONDS and notices a cancel."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.cancel_requested = threading.Event()
        self._redis = redis_client()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.RUN_HEARTBEAT_SECONDS):
                if heartbeat(self.run_id):
                    self.cancel_requested.set()
        finally:
            connection.close()

    def should_cancel(self) -> bool:
        """Asked for by the heartbeat's view of the database or by the Redis key a cancel sets.

        A Redis that is restarting must not fail the run: the heartbeat reads the database too."""
        if self.cancel_requested.is_set():
            return True
        try:
            return bool(self._redis.exists(cancel_key(self.run_id)))
        except redis.RedisError:
            return False
