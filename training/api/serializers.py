"""Output shapes of the training API."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling.models import Split
from labeling.serializers import ObjectIdField
from training.features.study import last_gain, study_points
from training.models import ModelVersion, Prediction, PredictionJob, RunMetric, Study, TrainingRun
from training.predict.job import SCOPES, Selection
from training.runs.lifecycle import queue_position


class TrainingRunOut(serializers.ModelSerializer[TrainingRun]):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    queue_position = serializers.SerializerMethodField()
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "project",
            "created_by",
            "config",
            "warm_start",
            "state",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "error",
            "progress",
            "queue_position",
            "model_version",
        ]

    def get_queue_position(self, run: TrainingRun) -> int | None:
        return queue_position(run)

    def get_model_version(self, run: TrainingRun) -> int | None:
        return ModelVersion.objects.filter(run=run).values_list("pk", flat=True).first()


class TrainingRunIn(serializers.Serializer[Any]):
    config = serializers.DictField(required=False, default=dict)
    warm_start = serializers.IntegerField(required=False, allow_null=True)


class PresetOut(serializers.Serializer[Any]):
    steps = serializers.IntegerField()
    steps_per_epoch = serializers.IntegerField()
    warmup_steps = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    patch_size = serializers.IntegerField()


class RunEstimateOut(serializers.Serializer[Any]):
    """How long a run of the chosen preset and sizes is expected to train on this installation."""

    preset = serializers.CharField()
    device = serializers.CharField(help_text="the device runs are sized and timed for: cpu or cuda")
    steps = serializers.IntegerField()
    steps_per_epoch = serializers.IntegerField()
    warmup_steps = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    patch_size = serializers.IntegerField()
    estimate = serializers.ChoiceField(choices=["measured", "unknown"])
    seconds = serializers.FloatField(allow_null=True, help_text="null while no run has been measured")
    measured_runs = serializers.IntegerField(help_text="the finished runs whose step times it uses")
    tag_stage_seconds = serializers.FloatField(
        allow_null=True,
        help_text="strategy=tags: the tag classifier and Score-CAM maps; null until a tags run finished here",
    )
    tag_stage_runs = serializers.IntegerField(help_text="the finished tags runs whose stage times it uses")
    default_preset = serializers.CharField()
    presets = serializers.DictField(child=PresetOut(), help_text="every preset's sizes on this device")


class PseudoMasksIn(serializers.Serializer[Any]):
    max_uncertainty = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        default=0.2,
        help_text="keep pixels whose normalised entropy is at most this",
    )


class RunMetricOut(serializers.ModelSerializer[RunMetric]):
    class Meta:
        model = RunMetric
        fields = ["seq", "kind", "step", "epoch", "values", "created_at"]


class ModelVersionOut(serializers.ModelSerializer[ModelVersion]):
    class Meta:
        model = ModelVersion
        fields = ["id", "project", "run", "parent", "kind", "config", "metrics", "created_at"]


class PredictionOut(serializers.ModelSerializer[Prediction]):
    mask_url = serializers.SerializerMethodField()
    uncertainty_url = serializers.SerializerMethodField()
    instances_url = serializers.SerializerMethodField()
    measurements_url = serializers.SerializerMethodField()
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="class index (as text) -> objects, countable classes"
    )

    class Meta:
        model = Prediction
        fields = [
            "id",
            "model_version",
            "image",
            "uncertainty",
            "counts",
            "created_at",
            "mask_url",
            "uncertainty_url",
            "instances_url",
            "measurements_url",
        ]

    def get_mask_url(self, prediction: Prediction) -> str:
        return f"/api/predictions/{prediction.pk}/mask.png"

    def get_uncertainty_url(self, prediction: Prediction) -> str:
        return f"/api/predictions/{prediction.pk}/uncertainty.png"

    def get_instances_url(self, prediction: Prediction) -> str | None:
        return f"/api/predictions/{prediction.pk}/instances/" if prediction.instances else None

    def get_measurements_url(self, prediction: Prediction) -> str:
        return f"/api/predictions/{prediction.pk}/measurements/"


class PredictIn(serializers.Serializer[Any]):
    """Which images a prediction job predicts (training/predict/job.py)."""

    scope = serializers.ChoiceField(
        choices=SCOPES,
        help_text="images: the listed ones; split: one split; all; not_predicted: those this version "
        "has not predicted yet; inference: the inference-only set",
    )
    images = serializers.ListField(child=ObjectIdField(), required=False, allow_empty=False)
    split = serializers.ChoiceField(choices=Split.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for scope in ("images", "split"):
            if attrs["scope"] == scope and scope not in attrs:
                raise serializers.ValidationError({scope: f'Say which {scope} with scope "{scope}".'})
        return attrs

    def selection(self) -> Selection:
        data = self.validated_data
        return Selection(scope=data["scope"], images=tuple(data.get("images", ())), split=data.get("split"))


class PredictionJobOut(serializers.ModelSerializer[PredictionJob]):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    idle_seconds = serializers.SerializerMethodField(
        help_text="since it last moved: a queued or running job idle for long waits for a worker"
    )

    class Meta:
        model = PredictionJob
        fields = [
            "id",
            "project",
            "model_version",
            "created_by",
            "origin",
            "selection",
            "state",
            "cancel_requested",
            "done",
            "total",
            "skipped",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "idle_seconds",
        ]

    def get_idle_seconds(self, job: PredictionJob) -> float:
        return round((timezone.now() - job.updated_at).total_seconds(), 1)


class AcceptIn(serializers.Serializer[Any]):
    base_version = serializers.IntegerField(
        min_value=0, help_text="the dense layer's version the page shows (0 when it has none)"
    )


class TeacherIn(serializers.Serializer[Any]):
    """The fluorescence teacher's settings (training/features/teacher.py); params are checked there."""

    channel = serializers.CharField(default="fluorescence", max_length=64)
    params = serializers.DictField(required=False, default=dict)
    class_index = serializers.IntegerField(required=False, allow_null=True, default=None)


class TeacherApplyIn(TeacherIn):
    images = serializers.ListField(
        child=ObjectIdField(), required=False, allow_null=True, default=None, allow_empty=False
    )


class StudyIn(serializers.Serializer[Any]):
    config = serializers.DictField(
        required=False, default=dict, help_text="the run options every point uses (as for a run)"
    )


class StudyPlanIn(serializers.Serializer[Any]):
    label_sources = serializers.ListField(child=serializers.CharField(), required=False)
    derived_sources = serializers.ListField(child=serializers.CharField(), required=False)


class RankedImageOut(serializers.Serializer[Any]):
    """One image of the uncertainty ranking (training/features/guidance.py)."""

    rank = serializers.IntegerField(help_text="1 = the image that most needs labels")
    image = serializers.IntegerField()
    name = serializers.CharField()
    uncertainty = serializers.FloatField(allow_null=True, help_text="none until a model scored it")
    model_version = serializers.IntegerField(allow_null=True, help_text="the version that scored it")
    has_labels = serializers.BooleanField(help_text="a person has labelled it")


class StudyPointOut(serializers.Serializer[Any]):
    size = serializers.IntegerField(help_text="labelled training images")
    run = serializers.IntegerField()
    state = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    pixel_f1 = serializers.FloatField(allow_null=True, help_text="validation pixel F1, once trained")
    train_images = serializers.IntegerField(allow_null=True, help_text="images the model trained on")


class StudyGainOut(serializers.Serializer[Any]):
    smaller = serializers.IntegerField()
    larger = serializers.IntegerField()
    pixel_f1 = serializers.FloatField(help_text="f1(larger) - f1(smaller)")


class StudyOut(serializers.ModelSerializer[Study]):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    points = serializers.SerializerMethodField()
    gain = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = [
            "id",
            "project",
            "created_by",
            "config",
            "sizes",
            "state",
            "created_at",
            "finished_at",
            "points",
            "gain",
        ]

    @extend_schema_field(StudyPointOut(many=True))
    def get_points(self, study: Study) -> list[dict[str, Any]]:
        return [StudyPointOut(point).data for point in study_points(study)]

    @extend_schema_field(StudyGainOut(allow_null=True))
    def get_gain(self, study: Study) -> dict[str, Any] | None:
        gain = last_gain(study_points(study))
        return None if gain is None else dict(StudyGainOut(gain).data)
