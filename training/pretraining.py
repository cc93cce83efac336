"""The "pretrain" run strategy: self-supervised pretraining on all of a project's images.

No labels are needed: the network learns to reconstruct blanked squares of its input ("masked")
or, in projects that image a nucleus stain beside brightfield, to predict that channel from the
input channels ("fluorescence"). The run's model version has kind "encoder": the network's
encoder and decoder without a head. It is not used to predict; later segmentation runs of this or
any other project whose channels match start from it (warm_start), and their model versions name
it as their parent.

The images are frozen when the run is started (all images of the project that have the channels,
labelled or not, at most MAX_IMAGES), like a label snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from django.db import transaction

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import Channel, Image, Project
from training import runs
from training.assemble import image_planes
from training.ml.data import channel_ranges, normalize
from training.ml.loop import Callbacks
from training.ml.pretrain import TASKS, PretrainConfig, PretrainSample, pretrain
from training.models import ModelVersion, TrainingRun

STRATEGY = "pretrain"
KIND = "encoder"
MAX_IMAGES = 256
SETTING_KEYS = ("mask_ratio", "mask_square", "stain_patch_fraction")  # PretrainConfig fields a run may set
OPTION_KEYS = ("task", "target_channels", *SETTING_KEYS)


def pretraining_create(
    *, project: Project, user: Any, options: dict[str, Any], warm_start: ModelVersion | None = None
) -> TrainingRun:
    """Freeze the project's images and queue a pretraining run on the gpu queue.

    Raises InvalidInput (a 400) for a bad value; nothing is written then.
    """
    if not isinstance(options, dict):
        raise InvalidInput("config must be a JSON object.")
    options = dict(options)
    if options.pop("strategy", None) != STRATEGY:
        raise InvalidInput(f'A pretraining run has strategy "{STRATEGY}".')
    given = {key: options.pop(key) for key in OPTION_KEYS if key in options}
    task = given.get("task", "masked")
    if task not in TASKS:
        raise InvalidInput(f"task must be one of {', '.join(TASKS)}.")
    targets = _target_channels(task, given.get("target_channels"))
    images = list(selectors.images_of(project).order_by("name", "pk"))
    names = _channel_names([image.pk for image in images])
    channels = _input_channels(options.pop("channels", None), names, targets)
    usable = [image.pk for image in images if set(channels + targets) <= set(names.get(image.pk, []))]
    if not usable:
        raise InvalidInput(
            f"No image of this project has the channels {', '.join(channels + targets)}; "
            "pretraining needs at least one."
        )
    train = runs.train_config(options, in_channels=len(channels), num_classes=2, defaults={})
    if train.freeze_encoder:
        raise InvalidInput(
            "freeze_encoder is for runs that start from a pretrained encoder, not for pretraining."
        )
    try:
        settings = PretrainConfig.like(
            train,
            task=task,
            out_channels=len(targets) or len(channels),
            **{key: given[key] for key in SETTING_KEYS if key in given},
        )
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"Invalid pretraining settings: {error}") from None
    if warm_start is not None:  # continue pretraining, or pretrain on from a segmentation model
        runs.check_warm_start(warm_start, train, channels)
    config = {
        "train": train.to_dict(),
        "channels": channels,
        "classes": [],
        "strategy": {
            "name": STRATEGY,
            "target_channels": targets,
            "images": usable[:MAX_IMAGES],
            "pretrain": settings.to_dict(),
        },
    }
    with transaction.atomic():
        run = TrainingRun.objects.create(
            project=project, created_by=user, config=config, label_snapshot=[], warm_start=warm_start
        )
        transaction.on_commit(lambda: runs.enqueue(run))
    return run


def _target_channels(task: str, raw: Any) -> list[str]:
    if task == "masked":
        if raw:
            raise InvalidInput('target_channels only apply to the task "fluorescence".')
        return []
    raw = ["fluorescence"] if raw is None else raw
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) and name for name in raw):
        raise InvalidInput(
            'target_channels must be a non-empty list of channel names, e.g. ["fluorescence"].'
        )
    return list(raw)


def _channel_names(image_ids: list[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for image_id, name in (
        Channel.objects.filter(image_id__in=image_ids).order_by("index").values_list("image_id", "name")
    ):
        names.setdefault(image_id, []).append(name)
    return names


def _input_channels(raw: Any, names: dict[int, list[str]], targets: list[str]) -> list[str]:
    """The channels the network reads: as asked, else the first image's channels minus the targets."""
    if raw is None:
        first = next(iter(names.values()), [])
        raw = [name for name in first if name not in targets]
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise InvalidInput("channels must be a non-empty list of channel names.")
    overlap = sorted(set(raw) & set(targets))
    if overlap:
        raise InvalidInput(f"{', '.join(overlap)} cannot be both an input and a target channel.")
    return list(raw)


# On the worker ------------------------------------------------------------------------------


@dataclass
class Pretrained:
    state: dict[str, torch.Tensor]
    ranges: list[tuple[float, float]]
    metrics: dict[str, Any]


def pretrain_run(
    run: TrainingRun,
    *,
    device: torch.device,
    callbacks: Callbacks,
    initial_weights: dict[str, torch.Tensor] | None = None,
) -> Pretrained:
    """Train the run's pretext task on its frozen images; the state has no head."""
    strategy = run.config["strategy"]
    settings = PretrainConfig.from_dict(strategy["pretrain"])
    images = list(
        Image.objects.filter(pk__in=strategy["images"], archived_at__isnull=True).order_by("name", "pk")
    )
    if not images:
        raise ValueError("every image this pretraining run was started with has been archived")
    inputs = [image_planes(image, run.config["channels"]) for image in images]
    ranges = channel_ranges(inputs)
    samples = []
    for image, planes in zip(images, inputs, strict=True):
        # A stain's brightness varies from field to field: each target is scaled by its own range.
        target = (
            normalize(image_planes(image, strategy["target_channels"]))
            if strategy["target_channels"]
            else None
        )
        samples.append(PretrainSample(normalize(planes, ranges=ranges), target))
    del inputs
    result = pretrain(settings, samples, device=device, callbacks=callbacks, initial_weights=initial_weights)
    tail = result.losses[-min(20, len(result.losses)) :]
    return Pretrained(
        state=result.state,
        ranges=ranges,
        metrics={
            "pretraining": {
                "task": settings.task,
                "images": len(images),
                "first_loss": round(result.losses[0], 6),
                "last_loss": round(float(np.mean(tail)), 6),
            }
        },
    )
