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

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import Project
from training.ml.checkpoint import Checkpoint
from training.ml.data import channel_ranges, normalize
from training.ml.loop import Callbacks
from training.ml.pretrain import TASKS, PretrainConfig, PretrainSample, pretrain
from training.runs.spec import SERVER_SET, PretrainOptions, RunSpec, channel_list, train_config
from training.strategies.base import Made, Prepared, TrainContext

KIND = "encoder"
MAX_IMAGES = 256
SETTING_KEYS = ("mask_ratio", "mask_square", "stain_patch_fraction")  # PretrainConfig fields a run may set


class PretrainStrategy:
    name = "pretrain"
    warm_starts = True
    trains_a_network = True

    def prepare(
        self, *, project: Project, options: dict[str, Any], train_image_limit: int | None
    ) -> Prepared:
        """Freeze the project's images (no labels) and the pretext task's settings."""
        if train_image_limit is not None:
            raise InvalidInput("train_image_limit is for runs on labelled images, not for pretraining.")
        given = {
            key: options.pop(key) for key in ("task", "target_channels", *SETTING_KEYS) if key in options
        }
        task = given.get("task", "masked")
        if task not in TASKS:
            raise InvalidInput(f"task must be one of {', '.join(TASKS)}.")
        targets = _target_channels(task, given.get("target_channels"))
        images = list(selectors.learnable_images(project).order_by("name", "pk"))
        names = selectors.channel_names(image.pk for image in images)
        channels = _input_channels(options.pop("channels", None), names, targets)
        usable = [image.pk for image in images if set(channels + targets) <= set(names.get(image.pk, []))]
        if not usable:
            raise InvalidInput(
                f"No image of this project has the channels {', '.join(channels + targets)}; "
                "pretraining needs at least one."
            )
        train = train_config(options, in_channels=len(channels), num_classes=2, defaults={})
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
        pretraining = PretrainOptions(
            target_channels=tuple(targets), images=tuple(usable[:MAX_IMAGES]), settings=settings
        )
        spec = RunSpec(train=train, channels=tuple(channels), classes=(), pretrain=pretraining)
        return Prepared(spec=spec, snapshot=[])

    def options_of(self, spec: RunSpec, *, project: Project) -> dict[str, Any]:
        assert spec.pretrain is not None
        settings = spec.pretrain.settings
        options = {key: value for key, value in spec.train.to_dict().items() if key not in SERVER_SET}
        return {
            **options,
            "strategy": self.name,
            "channels": list(spec.channels),
            "task": settings.task,
            **({"target_channels": list(spec.pretrain.target_channels)} if settings.task != "masked" else {}),
            **{key: getattr(settings, key) for key in SETTING_KEYS},
        }

    def train(self, context: TrainContext) -> Made:
        made = pretrain_images(context)
        spec = context.spec
        checkpoint = Checkpoint(
            config=spec.train, model_state=made.state, step=spec.train.steps, epoch=0, metrics={}
        )
        metrics = {**made.metrics, "steps": spec.train.steps}
        return Made(model=checkpoint, kind=KIND, ranges=made.ranges, metrics=metrics)


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


def _input_channels(raw: Any, names: dict[int, list[str]], targets: list[str]) -> list[str]:
    """The channels the network reads: as asked, else the first image's channels minus the targets."""
    if raw is None:
        first = next(iter(names.values()), [])
        raw = [name for name in first if name not in targets]
    channels = channel_list(raw)
    overlap = sorted(set(channels) & set(targets))
    if overlap:
        raise InvalidInput(f"{', '.join(overlap)} cannot be both an input and a target channel.")
    return channels


# On the worker ------------------------------------------------------------------------------


@dataclass
class Pretrained:
    state: dict[str, torch.Tensor]
    ranges: list[tuple[float, float]]
    metrics: dict[str, Any]


def pretrain_images(context: TrainContext) -> Pretrained:
    """Train the run's pretext task on its frozen images; the state has no head."""
    pretraining = context.spec.pretrain
    assert pretraining is not None
    images = selectors.live_images(pretraining.images)
    if not images:
        raise ValueError("every image this pretraining run was started with has been archived")
    inputs = [selectors.image_planes(image, context.spec.channels) for image in images]
    ranges = channel_ranges(inputs)
    samples = []
    for image, planes in zip(images, inputs, strict=True):
        # A stain's brightness varies from field to field: each target is scaled by its own range.
        targets = pretraining.target_channels
        target = normalize(selectors.image_planes(image, targets)) if targets else None
        samples.append(PretrainSample(normalize(planes, ranges=ranges), target))
    del inputs
    callbacks = Callbacks(on_step=context.reporter.progress, should_cancel=context.should_cancel)
    result = pretrain(
        pretraining.settings,
        samples,
        device=context.device,
        callbacks=callbacks,
        initial_weights=context.initial_weights,
    )
    tail = result.losses[-min(20, len(result.losses)) :]
    metrics = {
        "pretraining": {
            "task": pretraining.settings.task,
            "images": len(images),
            "first_loss": round(result.losses[0], 6),
            "last_loss": round(float(np.mean(tail)), 6),
        }
    }
    return Pretrained(state=result.state, ranges=ranges, metrics=metrics)
