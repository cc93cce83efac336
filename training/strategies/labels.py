"""The "labels" strategy (the default): a segmentation network from the run's frozen labels.

Scribbles, dense masks and derived pseudo-masks (each as `label_sources` allows) of the training
images train it; the dense masks of the validation images score it after every epoch, and a few
images' predictions are published as previews while it learns. The "tags" strategy adds a stage
before this same training (training/strategies/tags.py).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import Image, Project
from training.ml.checkpoint import Checkpoint
from training.ml.inference import predict
from training.ml.loop import Callbacks, EpochEvent, Trainer
from training.runs.snapshot import (
    first_train_images,
    image_input,
    label_snapshot,
    load_run_data,
    to_label_indices,
)
from training.runs.spec import (
    LABEL_SOURCES,
    MAX_PREVIEW_IMAGES,
    SERVER_SET,
    TAG_OPTION_KEYS,
    RunSpec,
    TagsOptions,
    channel_list,
    derived_sources,
    flag,
    label_approval,
    label_sources,
    train_config,
    weights_dir,
    whole_number,
)
from training.strategies.base import Made, Prepared, TrainContext

log = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = 512


class LabelsStrategy:
    name = "labels"
    warm_starts = True
    trains_a_network = True

    def prepare(
        self, *, project: Project, options: dict[str, Any], train_image_limit: int | None
    ) -> Prepared:
        given = sorted(key for key in TAG_OPTION_KEYS if key in options)
        if given:
            raise InvalidInput(f'{", ".join(given)} only apply to the strategy "tags".')
        return prepare_labelled(project=project, options=options, train_image_limit=train_image_limit)

    def options_of(self, spec: RunSpec, *, project: Project) -> dict[str, Any]:
        options = {key: value for key, value in spec.train.to_dict().items() if key not in SERVER_SET}
        options["channels"] = list(spec.channels)
        options["label_sources"] = list(spec.label_sources)
        options["label_approval"] = spec.label_approval
        options["preview_images"] = spec.preview_count
        options["test_time_augmentation"] = spec.test_time_augmentation
        if spec.derived_sources is not None:
            options["derived_sources"] = list(spec.derived_sources)
        return options

    def train(self, context: TrainContext) -> Made:
        spec, run = context.spec, context.run
        data = load_run_data(run.label_snapshot, spec)
        callbacks = Callbacks(on_step=context.reporter.progress, should_cancel=context.should_cancel)
        trainer = Trainer(
            spec.train,
            train=data.train,
            validation=data.validation,
            device=context.device,
            callbacks=callbacks,
            initial_weights=context.initial_weights,
            weights_dir=weights_dir(),
        )
        previews = (data.validation_images + data.train_images)[: spec.preview_count]
        inputs = [(image.pk, _preview_input(image, spec.channels, data.ranges)) for image in previews]

        def on_epoch(event: EpochEvent) -> None:
            context.reporter.validation(event)
            for image_id, x in inputs:
                tile = _tile_for(x)
                classes = predict(
                    trainer.model, x, device=context.device, tile=tile, overlap=tile // 4
                ).classes
                context.reporter.preview(event, image_id, to_label_indices(classes, spec.classes))

        callbacks.on_epoch = on_epoch
        log.info(
            "run %s: training on %s (%d train, %d validation images)",
            run.pk,
            context.device,
            len(data.train),
            len(data.validation),
        )
        result = trainer.fit()
        checkpoint = Checkpoint(
            config=spec.train,
            model_state=result.best_state,
            step=result.steps,
            epoch=result.epochs,
            metrics=result.metrics,
            history=result.history,
        )
        metrics = {
            "validation": result.metrics,
            "steps": result.steps,
            "epochs": result.epochs,
            "seconds": round(result.seconds, 1),
            "train_images": [image.pk for image in data.train_images],
            "validation_images": [image.pk for image in data.validation_images],
        }
        return Made(model=checkpoint, kind="segmentation", ranges=data.ranges, metrics=metrics)


def prepare_labelled(
    *,
    project: Project,
    options: dict[str, Any],
    train_image_limit: int | None,
    tags: TagsOptions | None = None,
    tagged_images: list[int] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Prepared:
    """The shared options of a segmentation run, and its frozen labels (`tags` and the images they
    are on come from the tags strategy, whose pseudo-masks are made on the worker)."""
    sources = label_sources(options.pop("label_sources", list(LABEL_SOURCES)))
    derived = derived_sources(options.pop("derived_sources", None))
    approval = label_approval(options.pop("label_approval", "all"))
    requested = options.pop("channels", None)
    preview_count = whole_number(options.pop("preview_images", 3), "preview_images", 0, MAX_PREVIEW_IMAGES)
    augment = flag(options.pop("test_time_augmentation", False), "test_time_augmentation")
    classes = sorted(selectors.class_indices(project))
    if len(classes) < 2:
        raise InvalidInput(
            "A segmentation model needs at least two classes (for example background and nucleus)."
        )
    snapshot = label_snapshot(
        project=project, sources=sources, derived=derived, approved_only=approval == "approved"
    )
    if train_image_limit is not None:
        snapshot = first_train_images(snapshot, train_image_limit)
    if not snapshot and tags is None:
        approved = " approved" if approval == "approved" else ""
        raise InvalidInput(
            f"Nothing to train on: no{approved} image of this project has {' or '.join(sources)} labels yet."
        )
    labelled = {image for image, _ in selectors.layer_images(pk for pk, _ in snapshot)}
    channels = common_channels(sorted(labelled | set(tagged_images or [])), requested)
    train = train_config(
        options, in_channels=len(channels), num_classes=len(classes), defaults=defaults or {}
    )
    spec = RunSpec(
        train=train,
        channels=tuple(channels),
        classes=tuple(classes),
        label_sources=sources,
        derived_sources=derived,
        label_approval=approval,
        preview_count=preview_count,
        test_time_augmentation=augment,
        tags=tags,
    )
    return Prepared(spec=spec, snapshot=snapshot)


def common_channels(image_ids: list[int], requested: Any) -> list[str]:
    """The input channels, by name, which every one of the images must have (default: the first's)."""
    names_by_image = selectors.channel_names(image_ids)
    requested = channel_list(names_by_image[image_ids[0]] if requested is None else requested)
    for image_id in image_ids:
        missing = [name for name in requested if name not in names_by_image.get(image_id, [])]
        if missing:
            raise InvalidInput(
                f"Image {image_id} has no channel {', '.join(missing)}; "
                f"it has {', '.join(names_by_image.get(image_id, []))}. "
                "Choose channels that all labelled images have."
            )
    return requested


def _preview_input(image: Image, channels: tuple[str, ...], ranges: list[tuple[float, float]]) -> np.ndarray:
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
