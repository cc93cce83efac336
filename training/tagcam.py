"""The "tags" run strategy: image-level tags -> Score-CAM pseudo-masks -> segmentation network.

Stage 1 (here, on the worker, before the usual training): a classifier learns "class present /
absent" from the project's tags of one class, frozen when the run was started; Score-CAM maps of
the images tagged present are thresholded into pseudo-masks (images tagged absent are background
everywhere), stored as derived layers with source "score-cam" and their provenance (run, class,
thresholds). Stage 2 is the ordinary training on the run's label snapshot, to which those layers
are added: scribbles and dense masks win over them pixel by pixel (training/assemble.py).

A derived layer a person has painted on since it was generated is kept as it is, like the
model-derived ones of training/pseudo.py. Every layer is written whole in one revision, so a
worker that dies part way leaves some images with new pseudo-masks and the rest with the old.

Images larger than the tile are cut into tiles; each inherits its image's tag. That is exact for
an absent tag and an approximation for a present one (a tile of a positive image may miss the
class), good when the class covers much of the image; tag tile-sized images for the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from django.conf import settings

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import Annotation, AnnotationKind, Image, LabelClass, Project, Split
from training import pseudo
from training.assemble import image_planes
from training.ml.config import TrainConfig
from training.ml.data import channel_ranges, normalize
from training.ml.loop import Callbacks, StepEvent, TrainingCancelled
from training.ml.scorecam import (
    CAM_HIGH,
    CAM_LOW,
    ClassifierConfig,
    TaggedTile,
    cam_map,
    pseudo_mask,
    train_classifier,
)
from training.models import TrainingRun
from webapp import live

STRATEGY = "tags"
SOURCE = "score-cam"
OPTION_KEYS = ("tag_class", "background_class", "tile", "cam_low", "cam_high", "classifier_steps")
DEFAULTS: dict[str, Any] = {"tile": 128, "cam_low": CAM_LOW, "cam_high": CAM_HIGH, "classifier_steps": 300}
CLASSIFIER_DEPTH = 3  # CAM maps at stride 8: fine enough for objects of ~20 px


# Starting a run -----------------------------------------------------------------------------


def parse_strategy(*, project: Project, options: dict[str, Any]) -> dict[str, Any] | None:
    """Take the strategy keys out of a run's options: None for the default strategy, else the
    tags strategy's settings with its frozen tags ([annotation id, version] pairs).

    Raises InvalidInput (a 400) for a bad value; nothing is written either way.
    """
    name = options.pop("strategy", "labels")
    given = {key: options.pop(key) for key in OPTION_KEYS if key in options}
    if name == "labels":
        if given:
            raise InvalidInput(f'{", ".join(sorted(given))} only apply to the strategy "tags".')
        return None
    if name != STRATEGY:
        raise InvalidInput('strategy must be "labels" (the default), "tags" or "pretrain".')
    values = {**DEFAULTS, **given}
    tag_class = _project_class(project, values.get("tag_class"), "tag_class")
    background = _background_class(project, values.get("background_class"), tag_class)
    tile = _whole(values["tile"], "tile", 32, 1024)
    if tile % 2**CLASSIFIER_DEPTH:
        raise InvalidInput(f"tile must be a multiple of {2**CLASSIFIER_DEPTH}.")
    low, high = _fraction(values["cam_low"], "cam_low"), _fraction(values["cam_high"], "cam_high")
    if not low < high:
        raise InvalidInput("cam_low must be below cam_high (both between 0 and 1).")
    tags = frozen_tags(project, tag_class)
    present = sum(tags.values())
    if present == 0 or present == len(tags):
        raise InvalidInput(
            f'The classifier needs images tagged present and absent for "{tag_class.name}"; there are '
            f"{present} present and {len(tags) - present} absent. Tag some of each."
        )
    return {
        "name": STRATEGY,
        "tag_class": tag_class.pk,
        "tag_index": tag_class.index,
        "background_index": background.index,
        "tile": tile,
        "cam_low": low,
        "cam_high": high,
        "classifier_steps": _whole(values["classifier_steps"], "classifier_steps", 1, 20_000),
        "tags": sorted([pk, version] for (pk, version) in tags),
    }


def frozen_tags(project: Project, tag_class: LabelClass) -> dict[tuple[int, int], bool]:
    """(annotation id, version) -> present, for the live tags of a class on training images."""
    heads = Annotation.objects.filter(
        image__project=project,
        image__archived_at__isnull=True,
        kind=AnnotationKind.TAG,
        key=str(tag_class.pk),
        is_deleted=False,
    ).exclude(image__split=Split.VALIDATION)
    return {(head.pk, head.version): _present(head, head.version) for head in heads}


def tagged_image_ids(strategy: dict[str, Any]) -> list[int]:
    ids = [pk for pk, _ in strategy["tags"]]
    return sorted(set(Annotation.objects.filter(pk__in=ids).values_list("image_id", flat=True)))


def _present(head: Annotation, version: int) -> bool:
    return bool(selectors.revision_at(head, version).data.get("present"))


def _project_class(project: Project, raw: Any, name: str) -> LabelClass:
    found = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        found = LabelClass.objects.filter(project=project, pk=raw).first()
    if found is None:
        raise InvalidInput(f"{name} must be the id of a class of this project.")
    return found


def _background_class(project: Project, raw: Any, tag_class: LabelClass) -> LabelClass:
    """The class pseudo-masks call background: as given, else the lowest-index other class."""
    if raw is not None:
        background = _project_class(project, raw, "background_class")
    else:
        background = LabelClass.objects.filter(project=project).exclude(pk=tag_class.pk).order_by("index")[0]
    if background.pk == tag_class.pk:
        raise InvalidInput("background_class must differ from tag_class.")
    return background


def _whole(raw: Any, name: str, low: int, high: int) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}.")
    return raw


def _fraction(raw: Any, name: str) -> float:
    if not isinstance(raw, int | float) or isinstance(raw, bool) or not 0.0 <= raw <= 1.0:
        raise InvalidInput(f"{name} must be a number from 0 to 1.")
    return float(raw)


# Stage 1, on the worker ---------------------------------------------------------------------


@dataclass
class TaggedImage:
    image: Image
    x: np.ndarray  # normalised (C, H, W)
    present: bool


def tag_stage(
    run: TrainingRun, *, device: torch.device, should_cancel: Callable[[], bool]
) -> list[tuple[int, int]]:
    """Train the classifier, store Score-CAM pseudo-masks, add them to the run's label snapshot.

    Returns the (annotation id, version) of the score-cam layers the run now trains on.
    """
    strategy = run.config["strategy"]
    tagged = load_tagged(run)
    stage = StageReporter(run)
    train = TrainConfig.from_dict(run.config["train"])
    config = ClassifierConfig(
        in_channels=len(run.config["channels"]),
        encoder=train.encoder,
        depth=CLASSIFIER_DEPTH,
        tile_size=strategy["tile"],
        steps=strategy["classifier_steps"],
        seed=train.seed,
    )
    tiles = [TaggedTile(tile, item.present) for item in tagged for tile in cut(item.x, strategy["tile"])]
    classifier = train_classifier(
        tiles,
        config,
        device=device,
        callbacks=Callbacks(on_step=stage.classifier_step, should_cancel=should_cancel),
    )
    layers = []
    for done, item in enumerate(tagged, start=1):
        if should_cancel():
            raise TrainingCancelled("cancelled while computing Score-CAM maps")
        target = pseudo_mask(
            _cam(classifier, item, device, strategy), present=item.present, **_thresholds(strategy)
        )
        layers.append(save_pseudo_mask(run, item.image, target))
        stage.publish("score-cam", done, len(tagged))
    _add_to_snapshot(run, layers)
    live.flush()
    return layers


def load_tagged(run: TrainingRun) -> list[TaggedImage]:
    """The run's frozen tags with their images' inputs, scaled by ranges over those images."""
    strategy = run.config["strategy"]
    versions = {int(pk): int(version) for pk, version in strategy["tags"]}
    heads = list(
        Annotation.objects.filter(pk__in=versions, image__archived_at__isnull=True)
        .select_related("image")
        .order_by("image__name", "pk")
    )
    if not heads:
        raise ValueError("none of the run's tagged images is left: start a new run")
    planes = [image_planes(head.image, run.config["channels"]) for head in heads]
    ranges = channel_ranges(planes)
    return [
        TaggedImage(head.image, normalize(plane, ranges=ranges), _present(head, versions[head.pk]))
        for head, plane in zip(heads, planes, strict=True)
    ]


def cut(x: np.ndarray, tile: int) -> list[np.ndarray]:
    """An image as tiles of at most `tile` pixels (the last ones shifted in); itself if it fits."""
    _, height, width = x.shape
    return [
        x[:, top : top + tile, left : left + tile]
        for top in _starts(height, tile)
        for left in _starts(width, tile)
    ]


def _starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    return sorted(set(range(0, length - tile, tile)) | {length - tile})


def _cam(classifier: Any, item: TaggedImage, device: torch.device, strategy: dict[str, Any]) -> np.ndarray:
    if not item.present:  # absent: background everywhere, no map needed
        return np.zeros(item.x.shape[1:], dtype=np.float32)
    return cam_map(classifier, item.x, device=device, tile=strategy["tile"])


def _thresholds(strategy: dict[str, Any]) -> dict[str, float]:
    return {"low": strategy["cam_low"], "high": strategy["cam_high"]}


def save_pseudo_mask(run: TrainingRun, image: Image, target: np.ndarray) -> tuple[int, int]:
    """Store a target (-1/0/1) as the image's score-cam layer; a layer a person painted on, or
    one saved by someone meanwhile, is kept as it is. Returns the layer's (id, version)."""
    strategy = run.config["strategy"]
    head = pseudo.derived_layer(image, SOURCE)
    if head is not None and not head.is_deleted and pseudo.painted_on(head):
        return head.pk, head.version
    values = np.array([0, strategy["background_index"], strategy["tag_index"]], dtype=np.uint16)
    provenance = {
        "source": SOURCE,
        "run": run.pk,
        "tag_class": strategy["tag_class"],
        "thresholds": _thresholds(strategy),
        "tile": strategy["tile"],
    }
    saved = pseudo.save_derived(
        image=image, author=run.created_by, head=head, provenance=provenance, mask=values[target + 1]
    )
    if saved is None:  # someone saved the layer meanwhile: theirs stands
        saved = Annotation.objects.get(image=image, kind=AnnotationKind.DERIVED, key=SOURCE)
    return saved.pk, saved.version


def _add_to_snapshot(run: TrainingRun, layers: list[tuple[int, int]]) -> None:
    """Record the layers' versions in the run's snapshot (replacing older versions of them)."""
    new = dict(layers)
    kept = [[pk, version] for pk, version in run.label_snapshot if pk not in new]
    run.label_snapshot = kept + [[pk, version] for pk, version in layers]
    run.save(update_fields=["label_snapshot"])


class StageReporter:
    """Stage 1's progress on the project socket: `run.stage` events, at most
    LIVE_PROGRESS_PER_SECOND a second, and the latest in the run's `progress` for late viewers."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run
        self.interval = 1.0 / settings.LIVE_PROGRESS_PER_SECOND
        self._last = float("-inf")

    def classifier_step(self, event: StepEvent) -> None:
        steps = self.run.config["strategy"]["classifier_steps"]
        self.publish("classifier", event.step, steps, loss=round(event.loss, 6))

    def publish(self, stage: str, done: int, total: int, **values: Any) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.interval:
            return
        self._last = now
        event = {
            "type": "run.stage",
            "run": self.run.pk,
            "stage": stage,
            "done": done,
            "total": total,
            **values,
        }
        progress = {key: value for key, value in event.items() if key not in ("type", "run")}
        run_id = self.run.pk

        def store() -> None:
            TrainingRun.objects.filter(pk=run_id).update(progress=progress)

        live.publish(self.run.project_id, event, before=store)
