"""The one reporter of a run: the loop's callbacks become stored curve points and live events.

Each point gets the next `seq`, is stored as a RunMetric and then published (both on the
publisher's thread, so the training step does not wait). A page loads the points so far from
the REST API and continues with socket events whose seq is larger: no gap, no duplicate. Step
progress and stage progress (the tag classifier, Score-CAM maps) are sent at most
LIVE_PROGRESS_PER_SECOND times a second each (and at their last step); the latest of either is also
the run's `progress`, for a page opened late.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling import labelmaps
from training.ml.loop import EpochEvent, StepEvent
from training.models import RunMetric, TrainingRun
from webapp import events, live


def preview_url(run_id: int, seq: int) -> str:
    return f"/api/runs/{run_id}/previews/{seq}.png"


class RunReporter:
    def __init__(self, run: TrainingRun, *, steps: int) -> None:
        self.run = run
        self.steps = steps
        self.seq = (
            RunMetric.objects.filter(run=run).order_by("-seq").values_list("seq", flat=True).first() or 0
        )
        self.interval = 1.0 / settings.LIVE_PROGRESS_PER_SECOND
        self._last: dict[str, float] = {}

    def progress(self, event: StepEvent) -> None:
        if not self._due("progress", event.step, self.steps):
            return
        self._emit(
            events.RunProgress(
                **self._point(event.step, event.epoch),
                steps=self.steps,
                loss=round(event.loss, 6),
                learning_rate=event.learning_rate,
                samples_per_second=round(event.samples_per_second, 3),
                eta_seconds=round(event.eta_seconds, 1),
            ),
            progress=True,
        )

    def validation(self, event: EpochEvent) -> None:
        self._emit(
            events.RunValidation(
                **self._point(event.step, event.epoch),
                train_loss=round(event.train_loss, 6),
                metrics=event.metrics,
                is_best=event.is_best,
            )
        )

    def preview(self, event: EpochEvent, image_id: int, label_map: np.ndarray) -> None:
        name = default_storage.save(
            f"previews/run-{self.run.pk}/epoch-{event.epoch}-image-{image_id}.png",
            ContentFile(labelmaps.encode_map(label_map)),
        )
        point = self._point(event.step, event.epoch)
        self._emit(
            events.RunPreview(**point, image=image_id, url=preview_url(self.run.pk, point["seq"])),
            stored={"image": image_id, "file": name},
        )

    def stage(self, stage: str, done: int, total: int, *, loss: float | None = None) -> None:
        """A stage before the segmentation training moved on: `done` of `total`."""
        if not self._due(stage, done, total):
            return
        self._emit(
            events.RunStage(**self._point(done, 0), stage=stage, done=done, total=total, loss=loss),
            progress=True,
        )

    def stage_steps(self, stage: str, total: int) -> Callable[[StepEvent], None]:
        """An on_step callback that reports a stage's training steps (the tag classifier's)."""
        return lambda event: self.stage(stage, event.step, total, loss=round(event.loss, 6))

    def _due(self, kind: str, done: int, total: int) -> bool:
        now = time.monotonic()
        if done < total and now - self._last.get(kind, float("-inf")) < self.interval:
            return False
        self._last[kind] = now
        return True

    def _point(self, step: int, epoch: int) -> dict[str, int]:
        self.seq += 1
        return {"run": self.run.pk, "seq": self.seq, "step": step, "epoch": epoch}

    def _emit(
        self, event: events.RunPoint, *, progress: bool = False, stored: dict[str, Any] | None = None
    ) -> None:
        """Store the point (its fields, or `stored` in their place) and the run's progress, then send."""
        values = {
            key: value
            for key, value in dataclasses.asdict(event).items()
            if key not in ("run", "seq", "step", "epoch")
        }
        metric = RunMetric(
            run_id=self.run.pk,
            seq=event.seq,
            kind=event.TYPE.removeprefix("run."),
            step=event.step,
            epoch=event.epoch,
            values=stored if stored is not None else values,
        )
        latest = {"step": event.step, "epoch": event.epoch, **values} if progress else None
        run_id = self.run.pk

        def store() -> None:
            metric.save()
            if latest is not None:
                TrainingRun.objects.filter(pk=run_id).update(progress=latest)

        live.publish(self.run.project_id, event, before=store)
