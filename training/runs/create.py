"""Starting a run: its strategy parses the options into a RunSpec and freezes the labels it
trains on (annotation ids and versions), the run is stored, and `train_run` is queued on commit.

A run trains on exactly what was there when it was started, however people label meanwhile.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from labeling.errors import InvalidInput
from labeling.models import Project
from training.models import ModelVersion, TrainingRun, VersionKind
from training.runs import lifecycle, presets, timing
from training.runs.spec import MAX_TRAIN_IMAGES, check_warm_start, whole_number
from training.strategies import strategy_named
from webapp import jobs


def run_create(
    *, project: Project, user: Any, options: dict[str, Any], warm_start: ModelVersion | None = None
) -> TrainingRun:
    """Parse and check the options (over a preset's sizes), freeze the labels, queue the run on
    the gpu queue.

    Raises InvalidInput (a 400) for a bad value; nothing is written then.
    """
    if not isinstance(options, dict):
        raise InvalidInput("config must be a JSON object.")
    options = dict(options)
    strategy = strategy_named(options.pop("strategy", "labels"))
    # The preset's sizes under the options given: explicit options win, and no preset is "standard".
    if strategy.trains_a_network:
        options = presets.with_preset(options, device=timing.training_device())
    elif "preset" in options:
        raise InvalidInput(
            f'Presets size network training; a "{strategy.name}" run trains none: leave preset out.'
        )
    limit = None
    if "train_image_limit" in options:  # a point of a label-efficiency study (features/study.py)
        limit = whole_number(options.pop("train_image_limit"), "train_image_limit", 1, MAX_TRAIN_IMAGES)
    prepared = strategy.prepare(project=project, options=options, train_image_limit=limit)
    spec = prepared.spec
    if warm_start is not None:
        if not strategy.warm_starts:
            raise InvalidInput(f'A "{strategy.name}" run is fitted from scratch; leave warm_start out.')
        if warm_start.kind == VersionKind.FOREST:
            raise InvalidInput(
                f"Model version {warm_start.pk} is a random forest; a network cannot start from it. "
                "Start from a segmentation or encoder version, or from scratch."
            )
        check_warm_start(warm_start.pk, warm_start.config, spec)
    elif spec.train.freeze_encoder and spec.train.encoder_weights is None:
        raise InvalidInput(
            "freeze_encoder keeps the encoder a run starts with: choose a warm start (or ImageNet "
            "weights), or the encoder would stay random."
        )
    with transaction.atomic():
        run = TrainingRun.objects.create(
            project=project,
            created_by=user,
            config=spec.to_json(),
            label_snapshot=[[pk, version] for pk, version in prepared.snapshot],
            warm_start=warm_start,
        )
        transaction.on_commit(lambda: enqueue(run))
    return run


def enqueue(run: TrainingRun) -> None:
    jobs.send("train_run", run.pk)  # training/actors.py
    lifecycle.publish_state(run)
