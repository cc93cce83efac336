"""A run on a worker: claim it, train it with its strategy, store the model version, queue scoring
(a prediction job of every image of the project, training/predict/job.py).

Heavy work goes to the "gpu" queue; a worker started with `--queues gpu` on a GPU machine trains
on CUDA, the same command on a CPU machine trains on the CPU (TRAIN_DEVICE=auto). The message is
idempotent: delivered twice, it finds its run no longer queued and does nothing.

Nothing half-written becomes visible: a model version's weights file is written first, under a
fresh name, and the ModelVersion row and the run's "succeeded" state are committed together
after it; a worker killed in between leaves an unreferenced file and a run the sweeper fails.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from training import scoring
from training.ml.loop import TrainingCancelled, choose_device
from training.models import ModelVersion, RunState, TrainingRun
from training.predict import job as prediction_job
from training.runs import lifecycle
from training.runs.reporter import RunReporter
from training.runs.spec import RunSpec
from training.strategies import strategy_of
from training.strategies.base import Made, TrainContext
from webapp import live

log = logging.getLogger(__name__)


def run_execute(run_id: int) -> None:
    """Train a queued run; on any failure the run is marked failed with why (never re-raised:
    a failed run is not retried, its starter starts it again)."""
    run = lifecycle.claim(run_id, worker=f"{socket.gethostname()}:{os.getpid()}")
    if run is None:
        log.info("run %s is not queued (taken, finished or cancelled already): nothing to do", run_id)
        return
    with lifecycle.Heartbeat(run.pk) as beat:
        try:
            version = _train(run, beat)
        except TrainingCancelled:
            live.flush()
            lifecycle.finish(run, RunState.CANCELLED)
            return
        except Exception as error:
            log.exception("run %s failed", run.pk)
            live.flush()
            lifecycle.finish(run, RunState.FAILED, error=f"{type(error).__name__}: {error}")
            return
    if version is not None:
        prediction_job.after_training(version)


def _train(run: TrainingRun, beat: lifecycle.Heartbeat) -> ModelVersion | None:
    spec = RunSpec.from_json(run.config)
    device = choose_device(settings.TRAIN_DEVICE)
    initial = None
    if run.warm_start is not None:
        initial = scoring.checkpoint_of(run.warm_start).model_state
    context = TrainContext(
        run=run,
        spec=spec,
        device=device,
        reporter=RunReporter(run, steps=spec.train.steps),
        should_cancel=beat.should_cancel,
        initial_weights=initial,
    )
    made = strategy_of(spec).train(context)
    made.metrics["device"] = str(device)
    return _store_version(run, spec, made)


def _store_version(run: TrainingRun, spec: RunSpec, made: Made) -> ModelVersion | None:
    """Weights file first (a fresh name), then the version row and "succeeded" in one transaction."""
    data, suffix = made.weights_file()
    name = default_storage.save(f"models/run-{run.pk}-{uuid.uuid4().hex}{suffix}", ContentFile(data))
    live.flush()  # every curve point is stored before the run reads as finished
    kept = True
    with transaction.atomic():
        version = ModelVersion.objects.create(
            project=run.project,
            run=run,
            parent=run.warm_start,
            kind=made.kind,
            weights=name,
            config={**spec.to_json(), "ranges": made.ranges},
            metrics=made.metrics,
        )
        if not lifecycle.finish(run, RunState.SUCCEEDED):
            # Swept as failed while finishing (its heartbeats had stalled): keep nothing.
            transaction.set_rollback(True)
            kept = False
    if not kept:
        default_storage.delete(name)
        return None
    return version
