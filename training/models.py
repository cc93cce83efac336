"""Training runs, the model versions they produce, and the predictions those make."""

from __future__ import annotations

from collections.abc import Iterable

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


class VersionKind:
    """What a model version is. Networks ("segmentation") and random forests ("forest") predict
    masks; a pretrained "encoder" is only a starting point for later runs."""

    SEGMENTATION = "segmentation"
    FOREST = "forest"
    ENCODER = "encoder"


PREDICTING_KINDS = (VersionKind.SEGMENTATION, VersionKind.FOREST)


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

    @property
    def predicts(self) -> bool:
        """Whether it makes masks (prediction jobs, pseudo-masks, guidance, exports of predictions)."""
        return self.kind in PREDICTING_KINDS


class Prediction(models.Model):
    """What one model version made of one image. Its files are written first, under fresh names,
    and the row after them: a row always has every file it names (training/scoring.py)."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="predictions")
    mask = models.FileField(upload_to="predictions/")
    uncertainty_map = models.FileField(upload_to="predictions/", blank=True)
    uncertainty = models.FloatField(null=True, blank=True, help_text="mean per-pixel entropy")
    instances = models.FileField(
        upload_to="predictions/",
        blank=True,
        help_text="objects of the countable classes, 0 = none: a 16-bit PNG (a 32-bit TIFF past 65535)",
    )
    counts = models.JSONField(default=dict, help_text="class index (as text) -> objects, countable classes")
    measurements = models.FileField(
        upload_to="predictions/", blank=True, help_text='JSON {"columns": [...], "rows": [[...], ...]}'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_version", "image"], name="one_prediction")]
        ordering = ["model_version_id", "image_id"]


class Study(models.Model):
    """A label-efficiency study: the same run trained on the first 1, 2, 4, ... labelled images of
    the project (training/features/study.py), each point scored on the validation images."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="studies")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    config = models.JSONField(default=dict, help_text="the run options every point uses")
    sizes = models.JSONField(default=list, help_text="numbers of labelled training images, ascending")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def follow_runs(self) -> bool:
        """Take the state its points' runs add up to; True if it changed (and was saved)."""
        state = study_state(self.points.values_list("run__state", flat=True))
        if state == self.state:
            return False
        self.state = state
        self.finished_at = timezone.now() if state in FINISHED_STATES else None
        self.save(update_fields=["state", "finished_at"])
        return True


def study_state(run_states: Iterable[str]) -> RunState:
    """All queued: queued. All finished: succeeded if every run did, cancelled if one was
    cancelled, else failed. In between: running."""
    states = set(run_states)
    if states and states <= FINISHED_STATES:
        if states == {RunState.SUCCEEDED}:
            return RunState.SUCCEEDED
        return RunState.CANCELLED if RunState.CANCELLED in states else RunState.FAILED
    return RunState.QUEUED if states <= {RunState.QUEUED} else RunState.RUNNING


class StudyPoint(models.Model):
    """One point of a study: its run trains on the first `size` labelled training images."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="points")
    size = models.PositiveIntegerField()
    run = models.OneToOneField(TrainingRun, on_delete=models.CASCADE, related_name="study_point")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "size"], name="one_point_per_size")]
        ordering = ["study_id", "size"]


class TeacherJob(models.Model):
    """One "apply the fluorescence teacher" request (training/features/teacher.py) and how far it got.

    Kept so that a page opened or reloaded while it runs shows its progress, and so that a job
    whose worker died reads as waiting: its message is redelivered and it carries on from where
    it stopped (the images it did come back unchanged).
    """

    job = models.CharField(max_length=32, unique=True, help_text="the id live events carry")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="teacher_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField()
    summary = models.JSONField(default=dict, help_text="image ids: made, unchanged, kept, excluded, missing")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class PredictionJob(models.Model):
    """One "predict these images with this model version" request (training/predict/jobs.py).

    The images are frozen when it is asked for; a page opened while it runs reads how far it got.
    Its message may arrive twice or after a worker died: it skips the images the version has
    already predicted and carries on, so a job always ends with one prediction per image.
    """

    class Origin(models.TextChoices):
        REQUEST = "request", "Asked for"
        RUN = "run", "After training"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prediction_jobs")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="prediction_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.REQUEST)
    selection = models.JSONField(default=dict, help_text="the selection as it was asked for")
    image_ids = models.JSONField(default=list, help_text="the images it was frozen to, in order")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    done = models.PositiveIntegerField(default=0, help_text="images through, skipped ones included")
    total = models.PositiveIntegerField()
    skipped = models.JSONField(default=list, help_text="[{image, name, reason}] of images it could not read")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES
