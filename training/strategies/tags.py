"""The "tags" strategy: image-level and tile tags -> Score-CAM pseudo-masks -> segmentation network.

Stage 1 (on the worker, before the usual training): a classifier learns "class present /
absent" from the project's tags of one class, of whole images and of tiles (rectangles a person
tagged in the annotator's grid), frozen when the run was started; Score-CAM maps of what is tagged
present are thresholded into pseudo-masks (what is tagged absent is background), stored as
derived layers with source "score-cam" and their provenance (run, class, thresholds). Stage 2
is the "labels" strategy's training on the run's label snapshot, to which those layers are
added: human labels win over them pixel by pixel (training/runs/snapshot.py).

A derived layer a person has touched since it was generated is kept as it is (the one rule,
labeling.selectors.derived_layer_state). Every layer is written whole in one revision, so a
worker that dies part way leaves some images with new pseudo-masks and the rest with the old.

Images (and tagged tiles) larger than the classifier's tile are cut into tiles; each inherits its
image's (or tagged tile's) tag. That is exact for an absent tag and an approximation for a present
one (a piece of a positive image may miss the class), good when the class covers much of the
image; for the rest, tag tiles near the classifier's size, as the bench's weak-tags protocol does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from labeling import selectors, services
from labeling.errors import InvalidInput
from labeling.models import AnnotationKind, Image, LabelClass, Project, Split
from labeling.tiletags import TileTag
from training.ml.data import channel_ranges, normalize
from training.ml.loop import Callbacks, TrainingCancelled
from training.ml.scorecam import (
    CAM_HIGH,
    CAM_LOW,
    PSEUDO_MASK_TRAINING,
    ClassifierConfig,
    TaggedTile,
    cam_map,
    cut,
    pseudo_mask,
    train_classifier,
)
from training.models import TrainingRun
from training.runs.spec import RunSpec, TagsOptions, fraction, label_approval, whole_number
from training.runs.timing import TagStage
from training.strategies.base import Made, Prepared, TrainContext
from training.strategies.labels import LabelsStrategy, prepare_labelled
from webapp import live

SOURCE = "score-cam"
DEFAULTS: dict[str, Any] = {"tile": 128, "cam_low": CAM_LOW, "cam_high": CAM_HIGH, "classifier_steps": 300}
CLASSIFIER_DEPTH = 3  # CAM maps at stride 8: fine enough for objects of ~20 px


class TagsStrategy:
    name = "tags"
    warm_starts = True
    trains_a_network = True

    def prepare(
        self, *, project: Project, options: dict[str, Any], train_image_limit: int | None
    ) -> Prepared:
        tags = parse_tags(project=project, options=options)
        frozen = [pk for pk, _ in (*tags.tags, *tags.tile_tags)]
        tagged = sorted({tag.image_id for tag in selectors.frozen_layers(frozen)})
        return prepare_labelled(
            project=project,
            options=options,
            train_image_limit=train_image_limit,
            tags=tags,
            tagged_images=tagged,
            defaults=PSEUDO_MASK_TRAINING,
        )

    def options_of(self, spec: RunSpec, *, project: Project) -> dict[str, Any]:
        assert spec.tags is not None
        background = selectors.label_class_at(project, spec.tags.background_index)
        return {
            **LabelsStrategy().options_of(spec, project=project),
            "strategy": self.name,
            "tag_class": spec.tags.tag_class,
            "background_class": background.pk if background else None,
            "tile": spec.tags.tile,
            "cam_low": spec.tags.cam_low,
            "cam_high": spec.tags.cam_high,
            "classifier_steps": spec.tags.classifier_steps,
        }

    def train(self, context: TrainContext) -> Made:
        timing = tag_stage(context)  # adds the score-cam layers to the run's snapshot
        made = LabelsStrategy().train(context)
        return replace(made, metrics={**made.metrics, "tag_stage": asdict(timing)})


# Parsing -------------------------------------------------------------------------------------


def parse_tags(*, project: Project, options: dict[str, Any]) -> TagsOptions:
    """Take the tags strategy's keys out of a run's options; freeze the tags of its class."""
    given = {key: options.pop(key) for key in (*DEFAULTS, "tag_class", "background_class") if key in options}
    values = {**DEFAULTS, **given}
    tag_class = _project_class(project, values.get("tag_class"), "tag_class")
    background = _background_class(project, values.get("background_class"), tag_class)
    tile, classifier_steps = _classifier_sizes(values)
    low, high = fraction(values["cam_low"], "cam_low"), fraction(values["cam_high"], "cam_high")
    if not low < high:
        raise InvalidInput("cam_low must be below cam_high (both between 0 and 1).")
    approved_only = label_approval(options.get("label_approval", "all")) == "approved"
    tags = frozen_tags(project, tag_class, approved_only=approved_only)
    tiles = frozen_tile_tags(project, tag_class, approved_only=approved_only)
    said = [*tags.values(), *(tile.present for layer in tiles.values() for tile in layer)]
    present = sum(said)
    if present == 0 or present == len(said):
        raise InvalidInput(
            f'The classifier needs images or tiles tagged present and absent for "{tag_class.name}"; '
            f"there are {present} present and {len(said) - present} absent. Tag some of each."
        )
    return TagsOptions(
        tag_class=tag_class.pk,
        tag_index=tag_class.index,
        background_index=background.index,
        tile=tile,
        cam_low=low,
        cam_high=high,
        classifier_steps=classifier_steps,
        tags=tuple(sorted(tags)),
        tile_tags=tuple(sorted(tiles)),
    )


def frozen_tags(
    project: Project, tag_class: LabelClass, *, approved_only: bool = False
) -> dict[tuple[int, int], bool]:
    """(annotation id, version) -> present, for the live tags of a class on training images (with
    `approved_only`: on approved training images, as their approval froze them)."""
    if approved_only:
        return {
            (row.annotation, row.version): selectors.tag_present_at(row.annotation, row.version)
            for row in selectors.approved_layers(project, [AnnotationKind.TAG])
            if row.key == str(tag_class.pk) and row.split != Split.VALIDATION
        }
    return {
        (tag.pk, tag.version): selectors.tag_present(tag, tag.version)
        for tag in selectors.live_tags(project, tag_class)
    }


def frozen_tile_tags(
    project: Project, tag_class: LabelClass, *, approved_only: bool = False
) -> dict[tuple[int, int], list[TileTag]]:
    """(annotation id, version) -> tiles, for the class's tile-tag layers on training images (with
    `approved_only`: on approved training images, as their approval froze them)."""
    if approved_only:
        versions = [
            (row.annotation, row.version)
            for row in selectors.approved_layers(project, [AnnotationKind.TILES])
            if row.key == str(tag_class.pk) and row.split != Split.VALIDATION
        ]
    else:
        versions = [
            (head.pk, head.version) for head in selectors.live_tags(project, tag_class, AnnotationKind.TILES)
        ]
    return {pair: selectors.tile_tags_at(*pair) for pair in versions}


def estimated_stage(*, project: Project, options: dict[str, Any]) -> TagStage:
    """The classifier and the maps a tags run with these options would make, for its estimate
    (training/runs/timing.py); refuses a class, tile or step count the run would refuse."""
    values = {**DEFAULTS, **options}
    tag_class = _project_class(project, values.get("tag_class"), "tag_class")
    tile, classifier_steps = _classifier_sizes(values)
    return TagStage(
        classifier=ClassifierConfig(depth=CLASSIFIER_DEPTH, tile_size=tile, steps=classifier_steps),
        mapped_megapixels=selectors.tagged_megapixels(project, tag_class),
    )


def _classifier_sizes(values: dict[str, Any]) -> tuple[int, int]:
    """(tile, classifier steps) from a run's options."""
    tile = whole_number(values["tile"], "tile", 32, 1024)
    if tile % 2**CLASSIFIER_DEPTH:
        raise InvalidInput(f"tile must be a multiple of {2**CLASSIFIER_DEPTH}.")
    return tile, whole_number(values["classifier_steps"], "classifier_steps", 1, 20_000)


def _project_class(project: Project, raw: Any, name: str) -> LabelClass:
    found = selectors.label_class(project, raw)
    if found is None:
        raise InvalidInput(f"{name} must be the id of a class of this project.")
    return found


def _background_class(project: Project, raw: Any, tag_class: LabelClass) -> LabelClass:
    """The class pseudo-masks call background: as given, else the lowest-index other class."""
    background = (
        _project_class(project, raw, "background_class")
        if raw is not None
        else selectors.first_other_class(project, tag_class)
    )
    if background.pk == tag_class.pk:
        raise InvalidInput("background_class must differ from tag_class.")
    return background


# Stage 1, on the worker ---------------------------------------------------------------------


@dataclass
class TaggedImage:
    """An image with what was said of it: its tag (None: not tagged as a whole) and its tiles."""

    image: Image
    x: np.ndarray  # normalised (C, H, W)
    present: bool | None
    tiles: list[TileTag] = field(default_factory=list)


@dataclass(frozen=True)
class TagStageTiming:
    """What the tag stage did and how long it took, for the run estimate (training/runs/timing.py)."""

    classifier_seconds: float
    classifier_megapixels: float  # steps x batch x tile²: the tile pixels the classifier trained on
    maps_seconds: float
    mapped_megapixels: float  # the pixels of the tagged images the Score-CAM maps cover


def tag_stage(context: TrainContext) -> TagStageTiming:
    """Train the classifier, store Score-CAM pseudo-masks, add them to the run's label snapshot."""
    spec, run, device = context.spec, context.run, context.device
    tags = spec.tags
    assert tags is not None
    tagged = load_tagged(tags, spec.channels)
    config = ClassifierConfig(
        in_channels=len(spec.channels),
        encoder=spec.train.encoder,
        depth=CLASSIFIER_DEPTH,
        tile_size=tags.tile,
        steps=tags.classifier_steps,
        seed=spec.train.seed,
    )
    tiles = [tile for item in tagged for tile in classifier_tiles(item, tags.tile)]
    on_step = context.reporter.stage_steps("classifier", tags.classifier_steps)
    started = time.perf_counter()
    classifier = train_classifier(
        tiles,
        config,
        device=device,
        callbacks=Callbacks(on_step=on_step, should_cancel=context.should_cancel),
    )
    trained = time.perf_counter()
    layers = []
    for done, item in enumerate(tagged, start=1):
        if context.should_cancel():
            raise TrainingCancelled("cancelled while computing Score-CAM maps")
        target = tags_target(
            item,
            lambda x, needed: cam_map(classifier, x, device=device, tile=tags.tile, needed=needed),
            **_thresholds(tags),
        )
        layers.append(save_pseudo_mask(run, tags, item.image, target))
        context.reporter.stage("score-cam", done, len(tagged))
    mapped = time.perf_counter()
    _add_to_snapshot(run, layers)
    live.flush()
    return TagStageTiming(
        classifier_seconds=round(trained - started, 3),
        classifier_megapixels=config.megapixels(),
        maps_seconds=round(mapped - trained, 3),
        mapped_megapixels=sum(item.x.shape[-2] * item.x.shape[-1] for item in tagged) / 1e6,
    )


def load_tagged(tags: TagsOptions, channels: tuple[str, ...]) -> list[TaggedImage]:
    """The run's frozen tags and tile tags by image, with the images' inputs scaled by ranges over
    those images; an image whose tile layer was left empty, with no tag of its own, is left out."""
    whole, tiled = dict(tags.tags), dict(tags.tile_tags)
    heads = selectors.frozen_layers([*whole, *tiled], live_images_only=True)
    said: dict[int, tuple[Image, bool | None, list[TileTag]]] = {}
    for head in heads:
        image, present, tiles = said.get(head.image_id, (head.image, None, []))
        if head.pk in whole:
            present = selectors.tag_present(head, whole[head.pk])
        else:
            tiles = tiles + selectors.tile_tags_at(head.pk, tiled[head.pk])
        said[head.image_id] = (image, present, tiles)
    found = sorted(
        (entry for entry in said.values() if entry[1] is not None or entry[2]),
        key=lambda entry: (entry[0].name, entry[0].pk),
    )
    if not found:
        raise ValueError("none of the run's tagged images is left: start a new run")
    planes = [selectors.image_planes(image, channels) for image, _, _ in found]
    ranges = channel_ranges(planes)
    return [
        TaggedImage(image, normalize(plane, ranges=ranges), present, tiles)
        for (image, present, tiles), plane in zip(found, planes, strict=True)
    ]


def classifier_tiles(item: TaggedImage, tile: int) -> list[TaggedTile]:
    """What the classifier learns from an image: the whole image cut into tiles, each with the
    image's tag, and each tagged tile cut the same way, with its own tag."""
    samples = [] if item.present is None else [TaggedTile(x, item.present) for x in cut(item.x, tile)]
    for tag in item.tiles:
        samples += [TaggedTile(x, tag.present) for x in cut(_crop(item.x, tag), tile)]
    return samples


def tags_target(
    item: TaggedImage,
    cam_of: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
    *,
    low: float,
    high: float,
) -> np.ndarray:
    """The pseudo-mask of one image from what was said of it: the image's tag over all of it
    (present: its thresholded Score-CAM map; absent: background; none: unknown), then each tile
    tagged present its thresholded map, then each tile tagged absent background. A tile is more
    specific than its image's tag, and an absent tag is exact, so it wins where tiles overlap;
    the whole image's map is asked only for the pixels no absent tile covers.

    Shape: item.x (C, H, W); cam_of((C, h, w), needed (h, w) bool or None) -> (h, w) in [0, 1];
    -> (H, W) int64, -1 / 0 / 1.
    """
    shape = item.x.shape[1:]
    whole = cam_of(item.x, _outside_absent_tiles(item)) if item.present else None
    if item.present is None:
        target = np.full(shape, -1, dtype=np.int64)
    else:
        target = pseudo_mask(
            np.zeros(shape) if whole is None else whole, present=item.present, low=low, high=high
        )
    for tag in sorted(item.tiles, key=lambda tag: tag.present, reverse=True):  # absent ones last
        region = (slice(tag.y, tag.y + tag.height), slice(tag.x, tag.x + tag.width))
        if tag.present:
            cam = whole[region] if whole is not None else cam_of(_crop(item.x, tag), None)
            target[region] = pseudo_mask(cam, present=True, low=low, high=high)
        else:
            target[region] = 0
    return target


def _outside_absent_tiles(item: TaggedImage) -> np.ndarray:
    """(H, W) bool: the pixels no tile tagged absent covers."""
    outside = np.ones(item.x.shape[1:], dtype=bool)
    for tag in item.tiles:
        if not tag.present:
            outside[tag.y : tag.y + tag.height, tag.x : tag.x + tag.width] = False
    return outside


def _crop(x: np.ndarray, tag: TileTag) -> np.ndarray:
    return x[:, tag.y : tag.y + tag.height, tag.x : tag.x + tag.width]


def _thresholds(tags: TagsOptions) -> dict[str, float]:
    return {"low": tags.cam_low, "high": tags.cam_high}


def save_pseudo_mask(
    run: TrainingRun, tags: TagsOptions, image: Image, target: np.ndarray
) -> tuple[int, int]:
    """Store a target (-1/0/1) as the image's score-cam layer; a layer a person touched, or one
    saved by someone meanwhile, is kept as it is. Returns the layer's (id, version)."""
    head = selectors.derived_layer(image, SOURCE)
    if head is not None and selectors.derived_layer_state(head) != "generated":
        return head.pk, head.version
    values = np.array([0, tags.background_index, tags.tag_index], dtype=np.uint16)
    provenance = {
        "source": SOURCE,
        "run": run.pk,
        "tag_class": tags.tag_class,
        "thresholds": _thresholds(tags),
        "tile": tags.tile,
    }
    saved = services.derived_layer_save(
        image=image, author=run.created_by, head=head, provenance=provenance, mask=values[target + 1]
    )
    if saved is None:  # someone saved the layer meanwhile: theirs stands
        saved = selectors.derived_layer(image, SOURCE)
        assert saved is not None
    return saved.pk, saved.version


def _add_to_snapshot(run: TrainingRun, layers: list[tuple[int, int]]) -> None:
    """Record the layers' versions in the run's snapshot (replacing older versions of them)."""
    new = dict(layers)
    kept = [[pk, version] for pk, version in run.label_snapshot if pk not in new]
    run.label_snapshot = kept + [[pk, version] for pk, version in layers]
    run.save(update_fields=["label_snapshot"])
