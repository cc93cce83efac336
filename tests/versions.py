"""Model versions made in the test process: a network with random weights stored as a version, so
prediction can be tested without training one first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.models import Project
from training.ml.checkpoint import Checkpoint, checkpoint_bytes, cpu_state
from training.ml.config import TrainConfig
from training.ml.models import create_model
from training.models import ModelVersion, TrainingRun
from training.runs.spec import RunSpec


def random_version(
    project: Project,
    user: Any,
    *,
    channels: Sequence[str] = ("gray",),
    classes: Sequence[int] = (1, 2),
    ranges: Sequence[tuple[float, float]] | None = None,
    seed: int = 0,
    run: TrainingRun | None = None,
) -> ModelVersion:
    """A segmentation model version of a freshly initialised U-Net (resnet18) on these channels,
    made by `run` (a finished run without options when none is given)."""
    torch.manual_seed(seed)
    config = TrainConfig(in_channels=len(channels), num_classes=len(classes), patch_size=64, batch_size=2)
    model = create_model(config).eval()
    weights = default_storage.save(
        "models/random.pt", ContentFile(checkpoint_bytes(Checkpoint(config, cpu_state(model))))
    )
    if run is None:
        run = TrainingRun.objects.create(project=project, created_by=user, state="succeeded")
    return ModelVersion.objects.create(
        project=project,
        run=run,
        kind="segmentation",
        weights=weights,
        config={
            "channels": list(channels),
            "classes": list(classes),
            "ranges": [list(pair) for pair in (ranges or [(0.0, 255.0)] * len(channels))],
            "test_time_augmentation": False,
        },
    )


def finished_run_version(
    project: Project,
    user: Any,
    spec: RunSpec,
    *,
    weights: str,
    ranges: Sequence[Sequence[float]],
    metrics: dict[str, Any],
) -> ModelVersion:
    """The segmentation version a worker stores for a run of `spec` that succeeded: the run holds
    the spec, the version the spec with the channels' ranges."""
    run = TrainingRun.objects.create(
        project=project, created_by=user, state="succeeded", config=spec.to_json()
    )
    config = {**spec.to_json(), "ranges": [list(pair) for pair in ranges]}
    return ModelVersion.objects.create(
        project=project, run=run, weights=weights, config=config, metrics=metrics
    )
