"""Training runs, the model versions they produce, and the predictions those make.

The workers that fill these in arrive with issue #4; the tables are here from the start so the
data model does not change under the labels people make in the meantime.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from labeling.models import Image, Project


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED}


class TrainingRun(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    config = models.JSONField(default=dict, help_text="the frozen strategy and TrainConfig")
    label_snapshot = models.JSONField(
        default=list, help_text="[[annotation_id, version], ...] the run trains from"
    )
    warm_start = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    progress = models.JSONField(default=dict, help_text="latest step, epoch, loss, eta")

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    def mark_failed(self, reason: str) -> None:
        self.state = RunState.FAILED
        self.error = reason
        self.finished_at = timezone.now()
        self.save(update_fields=["state", "error", "finished_at"])


class RunMetric(models.Model):
    """One point of a run's learning curves, kept so a late viewer gets the whole curve."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    seq = models.PositiveIntegerField(help_text="order of events within the run")
    kind = models.CharField(max_length=32, help_text="progress | validation | ...")
    step = models.PositiveIntegerField()
    epoch = models.PositiveIntegerField()
    values = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_metric_seq")]
        ordering = ["run_id", "seq"]


class ModelVersion(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    kind = models.CharField(
        max_length=32, default="segmentation", help_text="segmentation | encoder | classifier"
    )
    weights = models.FileField(upload_to="models/")
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class Prediction(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="predictions")
    mask = models.FileField(upload_to="predictions/")
    uncertainty_map = models.FileField(upload_to="predictions/", blank=True)
    uncertainty = models.FloatField(null=True, blank=True, help_text="mean per-pixel entropy")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_version", "image"], name="one_prediction")]
        ordering = ["model_version_id", "image_id"]
