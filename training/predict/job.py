"""Prediction jobs: a model version applied to a selection of a project's images, on a worker.

A job freezes its images when it is asked for (`prediction_job_start`) and is run by the
`predict_images` actor on the gpu queue. The actor is idempotent: images the version has already
predicted are skipped (counted as done), so a message delivered twice, or again after its worker
was killed, finishes the job with exactly one prediction per image (training/scoring.py writes
files first and the row after them). Cancelling is checked between images. Progress is stored on
the job (a page opened mid-job reads it) and sent live as `prediction.progress`, the stored
predictions as `predictions.ready` (the grid's badges, the annotator's overlay), the end as
`prediction.done`. After training, a job of every image scores the new version the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling import selectors
from labeling.errors import Conflict, InvalidInput
from labeling.models import Image, Split
from training import scoring
from training.ml.loop import choose_device
from training.models import ModelVersion, Prediction, PredictionJob, RunState
from webapp import events, jobs, live

log = logging.getLogger(__name__)

SCOPES = ("images", "split", "all", "not_predicted", "inference")
ACTIVE = (RunState.QUEUED, RunState.RUNNING)


class JobCancelled(Exception):
    pass


# Asking ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which images: the listed ones, a split, all, those the version has not predicted yet, or
    the inference-only set."""

    scope: str
    images: tuple[int, ...] = ()
    split: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"scope": self.scope}
        if self.scope == "images":
            data["images"] = list(self.images)
        if self.scope == "split":
            data["split"] = self.split
        return data


def selected_images(version: ModelVersion, selection: Selection) -> list[int]:
    """The ids of the selected live images of the version's project, by name; 400 for ids that are
    not images of the project."""
    images = selectors.images_of(version.project)
    if selection.scope == "images":
        wanted = set(selection.images)
        found = set(images.filter(pk__in=wanted).values_list("pk", flat=True))
        if wanted - found:
            raise InvalidInput(f"Images {sorted(wanted - found)} are not images of this project.")
        images = images.filter(pk__in=wanted)
    elif selection.scope in ("split", "inference"):
        images = images.filter(split=selection.split if selection.scope == "split" else Split.INFERENCE)
    elif selection.scope == "not_predicted":
        images = images.exclude(pk__in=Prediction.objects.filter(model_version=version).values("image_id"))
    return list(images.order_by("name", "pk").values_list("pk", flat=True))


@transaction.atomic
def prediction_job_start(*, version: ModelVersion, author: Any, selection: Selection) -> PredictionJob:
    """Check the request, freeze its images, record the job and queue it once committed."""
    if not version.predicts:
        raise InvalidInput(f"Model version {version.pk} is a pretrained {version.kind}; it does not predict.")
    image_ids = selected_images(version, selection)
    if not image_ids:
        raise InvalidInput("No image matches this selection; there is nothing to predict.")
    if len(image_ids) > settings.PREDICTION_MAX_IMAGES:
        raise InvalidInput(
            f"{len(image_ids)} images is more than one job takes ({settings.PREDICTION_MAX_IMAGES}, "
            "PREDICTION_MAX_IMAGES); ask for them in several selections."
        )
    active = PredictionJob.objects.select_for_update().filter(project_id=version.project_id, state__in=ACTIVE)
    if len(active) >= settings.PREDICTION_MAX_ACTIVE_JOBS:
        raise Conflict(
            f"This project has {len(active)} prediction jobs queued or running, the most it may have "
            "at once; wait for one to finish or cancel one."
        )
    return _create(version, author, selection, image_ids, PredictionJob.Origin.REQUEST)


def after_training(version: ModelVersion) -> list[PredictionJob]:
    """Score a new version: jobs of every image of its project (as many as PREDICTION_MAX_IMAGES
    needs), queued at once (the version is committed already)."""
    image_ids = scoring.images_to_score(version)
    made = []
    size = settings.PREDICTION_MAX_IMAGES
    for start in range(0, len(image_ids), size):
        chunk = image_ids[start : start + size]
        with transaction.atomic():
            made.append(
                _create(version, version.run.created_by, Selection("all"), chunk, PredictionJob.Origin.RUN)
            )
    return made


def _create(
    version: ModelVersion, author: Any, selection: Selection, image_ids: list[int], origin: str
) -> PredictionJob:
    job = PredictionJob.objects.create(
        project_id=version.project_id,
        model_version=version,
        created_by=author,
        origin=origin,
        selection=selection.to_json(),
        image_ids=image_ids,
        total=len(image_ids),
    )
    jobs.send_on_commit("predict_images", job.pk)  # training/actors.py
    live.publish_on_commit(job.project_id, _progress(job))
    return job


@transaction.atomic
def prediction_job_cancel(*, job: PredictionJob) -> PredictionJob:
    """A queued job ends at once; a running one after the image it is on (409 once it ended)."""
    job = PredictionJob.objects.select_for_update().get(pk=job.pk)
    if job.is_finished:
        raise Conflict(f"This prediction job has already {job.state}.")
    if job.state == RunState.QUEUED:
        job.state, job.finished_at = RunState.CANCELLED, timezone.now()
        job.save(update_fields=["state", "finished_at", "updated_at"])
        live.publish_on_commit(job.project_id, _done(job))
    else:
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested", "updated_at"])
    return job


# Running (the actor's body) ------------------------------------------------------------------


def job_run(job_id: int) -> None:
    """Predict the job's images not predicted yet. An error is raised again, so Dramatiq retries
    the message (the retry carries on from the images already stored); the job waits queued,
    saying why, while a retry follows, and is failed when none does."""
    job = PredictionJob.objects.filter(pk=job_id).select_related("model_version").first()
    if job is None or job.state in (RunState.SUCCEEDED, RunState.CANCELLED):
        log.info("prediction job %s is gone or over; nothing to do", job_id)
        return
    if job.cancel_requested:
        _finish(job, RunState.CANCELLED)
        return
    _begin(job)
    try:
        _predict_all(job)
    except JobCancelled:
        _finish(job, RunState.CANCELLED)
        return
    except Exception as error:
        log.exception("prediction job %s failed", job.pk)
        reason = f"{type(error).__name__}: {error}"
        if jobs.retry_follows():
            _wait_for_retry(job, reason)
        else:
            _finish(job, RunState.FAILED, error=reason)
        raise
    _finish(job, RunState.SUCCEEDED)


def _begin(job: PredictionJob) -> None:
    job.state, job.error, job.skipped = RunState.RUNNING, "", []
    job.started_at = job.started_at or timezone.now()
    job.save(update_fields=["state", "error", "skipped", "started_at", "updated_at"])
    live.publish(job.project_id, _progress(job))


def _predict_all(job: PredictionJob) -> None:
    version = job.model_version
    done = set(
        Prediction.objects.filter(model_version=version, image_id__in=job.image_ids).values_list(
            "image_id", flat=True
        )
    )
    images = {image.pk: image for image in selectors.live_images(job.image_ids)}
    context = scoring.context_of(version)
    device = choose_device(settings.TRAIN_DEVICE)
    model = scoring.model_of(version.pk, device.type) if set(images) - done else None
    reporter = Reporter(job)
    for position, image_id in enumerate(job.image_ids, start=1):
        image = images.get(image_id)
        if image is not None and image_id not in done and model is not None:
            if _cancel_requested(job.pk):
                reporter.send()
                raise JobCancelled
            try:
                prediction = scoring.predict_image(
                    version, image, model=model, device=device, context=context
                )
            except ValueError as error:  # unreadable, or without the version's channels
                reporter.skip(image, str(error))
            else:
                reporter.predicted(prediction)
        reporter.advance(position)
    reporter.send()


def _cancel_requested(job_id: int) -> bool:
    return bool(PredictionJob.objects.filter(pk=job_id, cancel_requested=True).exists())


@dataclass
class Reporter:
    """Stores a job's progress and sends it live, at most LIVE_PROGRESS_PER_SECOND times a second
    (and always at the end): a job of many small images does not flood the pages."""

    job: PredictionJob
    ready: list[events.ScoredImage] = field(default_factory=list)
    last: float = 0.0

    def predicted(self, prediction: Prediction) -> None:
        self.ready.append(
            events.ScoredImage(
                image=prediction.image_id,
                prediction=prediction.pk,
                uncertainty=prediction.uncertainty,
                mask_url=f"/api/predictions/{prediction.pk}/mask.png",
                counts=dict(prediction.counts),
            )
        )

    def skip(self, image: Image, reason: str) -> None:
        log.warning("prediction job %s skips image %s: %s", self.job.pk, image.pk, reason)
        self.job.skipped.append({"image": image.pk, "name": image.name, "reason": reason})

    def advance(self, done: int) -> None:
        self.job.done = done
        if time.monotonic() - self.last >= 1.0 / settings.LIVE_PROGRESS_PER_SECOND:
            self.send()

    def send(self) -> None:
        job = self.job
        job.save(update_fields=["done", "skipped", "updated_at"])
        if self.ready:
            version = job.model_version
            ready = events.PredictionsReady(
                model_version=version.pk, run=version.run_id, predictions=self.ready
            )
            live.publish(job.project_id, ready)
            self.ready = []
        live.publish(job.project_id, _progress(job))
        self.last = time.monotonic()


def _wait_for_retry(job: PredictionJob, reason: str) -> None:
    """Back to queued until the retry: a page shows the job as waiting, not as failed, and a broker
    that loses the retry's message sends it again (training/requeue.py resends queued jobs)."""
    job.state, job.error = RunState.QUEUED, f"{reason} (it is tried again shortly)"
    job.save(update_fields=["state", "error", "done", "skipped", "updated_at"])
    live.publish(job.project_id, _progress(job))
    live.flush()


def _finish(job: PredictionJob, state: RunState, *, error: str = "") -> None:
    job.state, job.error, job.finished_at = state, error, timezone.now()
    job.save(update_fields=["state", "error", "finished_at", "updated_at"])
    live.publish(job.project_id, _done(job))
    live.flush()


def _progress(job: PredictionJob) -> events.PredictionProgress:
    return events.PredictionProgress(
        job=job.pk, model_version=job.model_version_id, state=job.state, done=job.done, total=job.total
    )


def _done(job: PredictionJob) -> events.PredictionDone:
    return events.PredictionDone(
        job=job.pk,
        model_version=job.model_version_id,
        state=job.state,
        done=job.done,
        total=job.total,
        skipped=[entry["image"] for entry in job.skipped],
        error=job.error,
    )
