"""Dramatiq actors: train a run, score images with a model version.

Heavy work goes to the "gpu" queue; a worker started with `--queues gpu` on a GPU machine trains
on CUDA, the same command on a CPU machine trains on the CPU (TRAIN_DEVICE=auto). Actors get ids,
read everything else from the database and storage, and are idempotent: a message delivered
twice finds its run no longer queued, or its predictions already stored, and does nothing.

Nothing half-written becomes visible: a model version's weights file is written first, under a
fresh name, and the ModelVersion row and the run's "succeeded" state are committed together
after it; a worker killed in between leaves an unreferenced file and a run the sweeper fails.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import dramatiq
import numpy as np
import torch
import torch.nn.functional as F
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction

from labeling import imageio, labelmaps, selectors
from labeling.models import Image, Project
from training import (
    instant,  # noqa: F401  (registers the instant_preview actor with the worker)
    pretraining,
    pseudo,
    runs,
    tagcam,
    teacher,
)
from training.assemble import image_input, load_run_data, to_label_indices
from training.ml import checkpoint as ckpt
from training.ml.config import TrainConfig
from training.ml.fluorescence import TeacherParams
from training.ml.inference import predict
from training.ml.loop import Callbacks, EpochEvent, StepEvent, Trainer, TrainingCancelled, choose_device
from training.ml.models import create_model
from training.models import ModelVersion, Prediction, RunMetric, RunState, StudyPoint, TrainingRun
from webapp import live

log = logging.getLogger(__name__)

HOUR_MS = 3600 * 1000
SCORE_BATCH = 8
PREVIEW_MAX_SIDE = 512


# Training -----------------------------------------------------------------------------------


@dramatiq.actor(queue_name="gpu", max_retries=0, time_limit=72 * HOUR_MS)
def train_run(run_id: int) -> None:
    run = runs.claim(run_id, worker=f"{socket.gethostname()}:{os.getpid()}")
    if run is None:
        log.info("run %s is not queued (taken, finished or cancelled already): nothing to do", run_id)
        return
    with Heartbeat(run.pk) as beat:
        try:
            version = _train(run, beat)
        except TrainingCancelled:
            live.flush()
            runs.finish(run, RunState.CANCELLED)
            return
        except Exception as error:
            log.exception("run %s failed", run.pk)
            live.flush()
            runs.finish(run, RunState.FAILED, error=f"{type(error).__name__}: {error}")
            return
    if version is not None:
        image_ids = images_to_score(version)
        for start in range(0, len(image_ids), SCORE_BATCH):
            score_images.send(version.pk, image_ids[start : start + SCORE_BATCH])


def images_to_score(version: ModelVersion) -> list[int]:
    """Every image of the project, for a new segmentation model; none for an encoder (it predicts
    nothing) or a study's point (measured on the validation split: scoring the whole project once
    per point would cost more than the study itself)."""
    if version.kind != "segmentation" or StudyPoint.objects.filter(run_id=version.run_id).exists():
        return []
    return list(selectors.images_of(version.project).order_by("name", "pk").values_list("pk", flat=True))


def _train(run: TrainingRun, beat: Heartbeat) -> ModelVersion | None:
    config = TrainConfig.from_dict(run.config["train"])
    device = choose_device(settings.TRAIN_DEVICE)
    cancel = runs.redis_client()
    key = runs.cancel_key(run.pk)

    def should_cancel() -> bool:
        return beat.cancel_requested.is_set() or bool(cancel.exists(key))

    initial = None
    if run.warm_start is not None:
        initial = _checkpoint_of(run.warm_start).model_state
    reporter = RunReporter(run, steps=config.steps)
    strategy = run.config.get("strategy", {}).get("name")
    if strategy == pretraining.STRATEGY:
        made = pretraining.pretrain_run(
            run,
            device=device,
            callbacks=Callbacks(on_step=reporter.progress, should_cancel=should_cancel),
            initial_weights=initial,
        )
        return _store_version(
            run,
            ckpt.Checkpoint(config=config, model_state=made.state, step=config.steps, epoch=0, metrics={}),
            kind=pretraining.KIND,
            config={**run.config, "ranges": made.ranges},
            metrics={**made.metrics, "steps": config.steps, "device": str(device)},
        )
    if strategy == tagcam.STRATEGY:
        tagcam.tag_stage(run, device=device, should_cancel=should_cancel)  # adds to the snapshot
    data = load_run_data(run)
    callbacks = Callbacks(on_step=reporter.progress, should_cancel=should_cancel)
    trainer = Trainer(
        config,
        train=data.train,
        validation=data.validation,
        device=device,
        callbacks=callbacks,
        initial_weights=initial,
        weights_dir=runs.weights_dir(),
    )
    previews = (data.validation_images + data.train_images)[: int(run.config.get("preview_count", 3))]
    preview_inputs = [
        (image.pk, _preview_input(image, run.config["channels"], data.ranges)) for image in previews
    ]

    def on_epoch(event: EpochEvent) -> None:
        reporter.validation(event)
        for image_id, x in preview_inputs:
            tile = _tile_for(x)
            classes = predict(trainer.model, x, device=device, tile=tile, overlap=tile // 4).classes
            reporter.preview(event, image_id, to_label_indices(classes, run.config["classes"]))

    callbacks.on_epoch = on_epoch
    log.info(
        "run %s: training on %s (%d train, %d validation images)",
        run.pk,
        device,
        len(data.train),
        len(data.validation),
    )
    result = trainer.fit()
    return _store_version(
        run,
        ckpt.Checkpoint(
            config=config,
            model_state=result.best_state,
            step=result.steps,
            epoch=result.epochs,
            metrics=result.metrics,
            history=result.history,
        ),
        kind="segmentation",
        config={**run.config, "ranges": data.ranges},
        metrics={
            "validation": result.metrics,
            "steps": result.steps,
            "epochs": result.epochs,
            "seconds": round(result.seconds, 1),
            "device": str(device),
            "train_images": [image.pk for image in data.train_images],
            "validation_images": [image.pk for image in data.validation_images],
        },
    )


def _store_version(
    run: TrainingRun,
    checkpoint: ckpt.Checkpoint,
    *,
    kind: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
) -> ModelVersion | None:
    """Weights file first (a fresh name), then the version row and "succeeded" in one transaction."""
    name = default_storage.save(
        f"models/run-{run.pk}-{uuid.uuid4().hex}.pt", ContentFile(ckpt.checkpoint_bytes(checkpoint))
    )
    live.flush()  # every curve point is stored before the run reads as finished
    kept = True
    with transaction.atomic():
        version = ModelVersion.objects.create(
            project=run.project,
            run=run,
            parent=run.warm_start,
            kind=kind,
            weights=name,
            config=config,
            metrics=metrics,
        )
        if not runs.finish(run, RunState.SUCCEEDED):
            # Swept as failed while finishing (its heartbeats had stalled): keep nothing.
            transaction.set_rollback(True)
            kept = False
    if not kept:
        default_storage.delete(name)
        return None
    return version


class Heartbeat:
    """A thread that marks the run alive every RUN_HEARTBEAT_SECONDS and notices a cancel."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.cancel_requested = threading.Event()
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
                if runs.heartbeat(self.run_id):
                    self.cancel_requested.set()
        finally:
            connection.close()


class RunReporter:
    """Turns the loop's callbacks into stored curve points and live events, in one order.

    Each point gets the next `seq`, is stored as a RunMetric and then published (both on the
    publisher's thread, so the training step does not wait). A page loads the points so far from
    the REST API and continues with socket events whose seq is larger: no gap, no duplicate.
    Progress is sent at most LIVE_PROGRESS_PER_SECOND times a second (and at the last step).
    """

    def __init__(self, run: TrainingRun, *, steps: int) -> None:
        self.run = run
        self.steps = steps
        self.seq = (
            RunMetric.objects.filter(run=run).order_by("-seq").values_list("seq", flat=True).first() or 0
        )
        self.interval = 1.0 / settings.LIVE_PROGRESS_PER_SECOND
        self._last_progress = float("-inf")

    def progress(self, event: StepEvent) -> None:
        now = time.monotonic()
        if event.step < self.steps and now - self._last_progress < self.interval:
            return
        self._last_progress = now
        values = {
            "steps": self.steps,
            "loss": round(event.loss, 6),
            "learning_rate": event.learning_rate,
            "samples_per_second": round(event.samples_per_second, 3),
            "eta_seconds": round(event.eta_seconds, 1),
        }
        latest = {"step": event.step, "epoch": event.epoch, **values}
        self._emit(
            "progress",
            step=event.step,
            epoch=event.epoch,
            values=values,
            also=lambda: TrainingRun.objects.filter(pk=self.run.pk).update(progress=latest),
        )

    def validation(self, event: EpochEvent) -> None:
        self._emit(
            "validation",
            step=event.step,
            epoch=event.epoch,
            values={
                "train_loss": round(event.train_loss, 6),
                "metrics": event.metrics,
                "is_best": event.is_best,
            },
        )

    def preview(self, event: EpochEvent, image_id: int, label_map: np.ndarray) -> None:
        name = default_storage.save(
            f"previews/run-{self.run.pk}/epoch-{event.epoch}-image-{image_id}.png",
            ContentFile(labelmaps.encode_map(label_map)),
        )
        seq = self.seq + 1
        self._emit(
            "preview",
            step=event.step,
            epoch=event.epoch,
            values={"image": image_id, "file": name},
            public={"image": image_id, "url": preview_url(self.run.pk, seq)},
        )

    def _emit(
        self,
        kind: str,
        *,
        step: int,
        epoch: int,
        values: dict[str, Any],
        public: dict[str, Any] | None = None,
        also: Callable[[], object] | None = None,
    ) -> None:
        self.seq += 1
        metric = RunMetric(run_id=self.run.pk, seq=self.seq, kind=kind, step=step, epoch=epoch, values=values)
        event = {"type": f"run.{kind}", "run": self.run.pk, "seq": self.seq, "step": step, "epoch": epoch}
        event.update(public if public is not None else values)

        def store() -> None:
            metric.save()
            if also is not None:
                also()

        live.publish(self.run.project_id, event, before=store)


def preview_url(run_id: int, seq: int) -> str:
    return f"/api/runs/{run_id}/previews/{seq}.png"


def _preview_input(image: Image, channels: list[str], ranges: list[tuple[float, float]]) -> np.ndarray:
    """The image's input, shrunk so its longer side is at most PREVIEW_MAX_SIDE (previews are small)."""
    x = image_input(image, channels, ranges)
    longest = max(x.shape[1:])
    if longest <= PREVIEW_MAX_SIDE:
        return x
    scale = PREVIEW_MAX_SIDE / longest
    size = (max(1, round(x.shape[1] * scale)), max(1, round(x.shape[2] * scale)))
    return F.interpolate(torch.from_numpy(x)[None], size=size, mode="area")[0].numpy()


def _tile_for(x: np.ndarray) -> int:
    """The smallest multiple of 32 that covers the image in one tile, up to 512."""
    return min(512, max(64, -(-max(x.shape[1:]) // 32) * 32))


# Scoring ------------------------------------------------------------------------------------


@dramatiq.actor(queue_name="gpu", max_retries=3, time_limit=12 * HOUR_MS)
def score_images(model_version_id: int, image_ids: list[int]) -> None:
    """Predict class maps and uncertainty for images; skips those already scored by this version."""
    version = ModelVersion.objects.filter(pk=model_version_id).select_related("run").first()
    if version is None:
        log.info("model version %s is gone; nothing to score", model_version_id)
        return
    done = set(
        Prediction.objects.filter(model_version=version, image_id__in=image_ids).values_list(
            "image_id", flat=True
        )
    )
    todo = list(Image.objects.filter(pk__in=image_ids, archived_at__isnull=True).exclude(pk__in=done))
    if not todo:
        return
    device = choose_device(settings.TRAIN_DEVICE)
    model = _model_of(version.pk, device.type)
    classes = version.config["classes"]
    augment = bool(version.config.get("test_time_augmentation", False))
    scored = []
    for image in todo:
        x = image_input(image, version.config["channels"], version.config.get("ranges"))
        result = predict(model, x, device=device, augment=augment)
        prediction = _store_prediction(
            version, image, to_label_indices(result.classes, classes), result.entropy, result.uncertainty
        )
        scored.append(
            {
                "image": image.pk,
                "prediction": prediction.pk,
                "uncertainty": prediction.uncertainty,
                "mask_url": f"/api/predictions/{prediction.pk}/mask.png",
            }
        )
    live.publish(
        version.project_id,
        {
            "type": "predictions.ready",
            "model_version": version.pk,
            "run": version.run_id,
            "predictions": scored,
        },
    )
    live.flush()


def _store_prediction(
    version: ModelVersion, image: Image, label_map: np.ndarray, entropy: np.ndarray, uncertainty: float
) -> Prediction:
    stem = f"predictions/v{version.pk}/image-{image.pk}-{uuid.uuid4().hex[:8]}"
    mask = default_storage.save(f"{stem}.png", ContentFile(labelmaps.encode_map(label_map)))
    entropy_png = imageio.encode_png(np.clip(entropy * 255.0 + 0.5, 0, 255).astype(np.uint8))
    entropy_name = default_storage.save(f"{stem}-uncertainty.png", ContentFile(entropy_png))
    with transaction.atomic():
        prediction, created = Prediction.objects.get_or_create(
            model_version=version,
            image=image,
            defaults={"mask": mask, "uncertainty_map": entropy_name, "uncertainty": uncertainty},
        )
    if not created:  # another delivery of the same batch got there first
        default_storage.delete(mask)
        default_storage.delete(entropy_name)
    return prediction


def _checkpoint_of(version: ModelVersion) -> ckpt.Checkpoint:
    return ckpt.checkpoint_from_bytes(
        selectors.read_file(version.weights), where=f"model version {version.pk}"
    )


@lru_cache(maxsize=2)
def _model_of(version_id: int, device_type: str) -> torch.nn.Module:
    """The network of a model version on a device, kept for the next batch of the same version."""
    saved = _checkpoint_of(ModelVersion.objects.get(pk=version_id))
    model = create_model(saved.config)
    model.load_state_dict(saved.model_state)
    return model.to(torch.device(device_type)).eval()


# Derived pseudo-masks ----------------------------------------------------------------------


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=2 * HOUR_MS)
def derive_pseudo_masks(model_version_id: int, author_id: int, max_uncertainty: float) -> None:
    """Confident predictions of a model version -> derived layers (training/pseudo.py)."""
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        log.info("model version %s is gone; no pseudo-masks", model_version_id)
        return
    author = get_user_model().objects.get(pk=author_id)
    derived = pseudo.derive_from_predictions(version=version, author=author, max_uncertainty=max_uncertainty)
    live.publish(
        version.project_id,
        {
            "type": "pseudo_masks.ready",
            "model_version": version.pk,
            "source": pseudo.SOURCE,
            "made": derived.made,
            "kept": derived.kept,
        },
    )
    live.flush()


# The fluorescence teacher -------------------------------------------------------------------


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=4 * HOUR_MS)
def apply_fluorescence_teacher(
    job: str,
    project_id: int,
    author_id: int,
    channel: str,
    params: dict[str, Any],
    class_index: int,
    image_ids: list[int] | None,
) -> None:
    """Teacher pseudo-masks for a project's images (training/teacher.py), with live progress.

    Idempotent: a redelivered message finds the images it already did unchanged and skips them.
    """
    project = Project.objects.filter(pk=project_id, archived_at__isnull=True).first()
    if project is None:
        log.info("project %s is gone; no teacher pseudo-masks", project_id)
        return
    author = get_user_model().objects.get(pk=author_id)
    try:
        applied = teacher.teacher_apply(
            project=project,
            author=author,
            channel=channel,
            params=TeacherParams.from_dict(params),
            class_index=class_index,
            image_ids=image_ids,
            on_image=lambda done, total: teacher.job_progress(project_id, job, done, total),
        )
    except Exception as error:
        log.exception("fluorescence teacher job %s failed", job)
        teacher.job_failed(project_id, job, f"{type(error).__name__}: {error}")
        raise
    teacher.job_finished(project_id, job, channel, applied)
