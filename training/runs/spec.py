"""RunSpec: everything about how a run trains, parsed and validated once, when it is created.

A request's options are parsed by the run's strategy (training/strategies/) into one frozen,
typed RunSpec; the run stores `spec.to_json()` and the worker, scoring, guidance and warm starts
read it back with `RunSpec.from_json`, into the same type. The JSON is the run's `config` (and,
with the channel ranges the worker measured, its model version's). The option parsers every
strategy shares live here too, so each option is refused with the same message wherever it is given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from labeling.errors import InvalidInput
from training.ml.config import TrainConfig
from training.ml.models import WeightsUnavailable, imagenet_weights_file
from training.ml.peer import PeerConfig
from training.ml.pretrain import PretrainConfig

LABEL_SOURCES = ("scribble", "dense", "derived")
# Which images' human labels a run learns from: every image's as they are now ("all"), or only the
# approved images', as their approval froze them ("approved", labeling/workflow.py).
LABEL_APPROVALS = ("all", "approved")
# Bounds on what a run may ask for, so one request cannot hold a worker for days.
MAX_STEPS = 200_000
MAX_PATCH_SIZE = 1024
MAX_BATCH_SIZE = 64
MAX_TRAIN_IMAGES = 100_000
MAX_PREVIEW_IMAGES = 8
MAX_LEARNING_RATE = 1.0
MAX_DATA_WORKERS = 8  # data-loading processes one run may start beside its worker
# Bounds on a "forest" run: trees, and labelled pixels sampled per image (features cost 80 bytes
# per pixel and channel at the default scales, the fit grows faster than the sample).
MAX_FOREST_TREES = 500
MAX_FOREST_SAMPLES_PER_IMAGE = 200_000
# TrainConfig fields the server sets from the project, never a request.
SERVER_SET = ("in_channels", "num_classes", "extra")


class UnknownOptions(ValueError):
    """A stored config with keys this version of the app does not know (or cannot repeat)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"unknown run options: {', '.join(names)}")
        self.names = names


# The options only the "tags" strategy takes (training/strategies/tags.py).
TAG_OPTION_KEYS = ("tag_class", "background_class", "tile", "cam_low", "cam_high", "classifier_steps")


@dataclass(frozen=True)
class TagsOptions:
    """The "tags" strategy: a classifier on the tags (of images and of tiles) of one class,
    Score-CAM pseudo-masks."""

    tag_class: int  # the LabelClass id whose tags train the classifier
    tag_index: int  # its index in label maps
    background_index: int  # the class pseudo-masks call background
    tile: int
    cam_low: float
    cam_high: float
    classifier_steps: int
    tags: tuple[tuple[int, int], ...]  # frozen (annotation id, version) of the image-level tags
    tile_tags: tuple[tuple[int, int], ...] = ()  # and of the class's tile-tag layers

    def to_json(self) -> dict[str, Any]:
        return {
            "name": "tags",
            "tag_class": self.tag_class,
            "tag_index": self.tag_index,
            "background_index": self.background_index,
            "tile": self.tile,
            "cam_low": self.cam_low,
            "cam_high": self.cam_high,
            "classifier_steps": self.classifier_steps,
            "tags": [list(pair) for pair in self.tags],
            "tile_tags": [list(pair) for pair in self.tile_tags],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TagsOptions:
        values = {key: value for key, value in data.items() if key != "name"}
        for key in ("tags", "tile_tags"):
            values[key] = tuple((int(pk), int(version)) for pk, version in values.get(key, []))
        return cls(**values)


@dataclass(frozen=True)
class PretrainOptions:
    """The "pretrain" strategy: a pretext task on the frozen images, no labels."""

    target_channels: tuple[str, ...]  # the fluorescence task predicts these; none for "masked"
    images: tuple[int, ...]  # frozen image ids
    settings: PretrainConfig

    def to_json(self) -> dict[str, Any]:
        return {
            "name": "pretrain",
            "target_channels": list(self.target_channels),
            "images": list(self.images),
            "pretrain": self.settings.to_dict(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PretrainOptions:
        return cls(
            target_channels=tuple(data["target_channels"]),
            images=tuple(data["images"]),
            settings=PretrainConfig.from_dict(data["pretrain"]),
        )


@dataclass(frozen=True)
class ForestOptions:
    """The "forest" strategy: the random-forest peer's features and trees, no network."""

    settings: PeerConfig

    def to_json(self) -> dict[str, Any]:
        return {"name": "forest", **dataclasses.asdict(self.settings)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForestOptions:
        return cls(settings=PeerConfig(**{key: value for key, value in data.items() if key != "name"}))


@dataclass(frozen=True)
class RunSpec:
    """How a run trains. Model class k is the label class with index classes[k]."""

    train: TrainConfig
    channels: tuple[str, ...]
    classes: tuple[int, ...]
    label_sources: tuple[str, ...] = ()
    derived_sources: tuple[str, ...] | None = None  # which derived layers (by source); None = all
    label_approval: str = "all"  # LABEL_APPROVALS
    preview_count: int = 3
    # The version scores images as the mean over their 8 rotations and mirror images (8x the time).
    test_time_augmentation: bool = False
    tags: TagsOptions | None = None
    pretrain: PretrainOptions | None = field(default=None)
    forest: ForestOptions | None = field(default=None)

    @property
    def strategy(self) -> str:
        if self.tags is not None:
            return "tags"
        if self.forest is not None:
            return "forest"
        return "pretrain" if self.pretrain is not None else "labels"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"train": self.train.to_dict(), "channels": list(self.channels)}
        data["classes"] = list(self.classes)
        if self.pretrain is not None:
            data["strategy"] = self.pretrain.to_json()
            return data
        data["label_sources"] = list(self.label_sources)
        data["label_approval"] = self.label_approval
        data["preview_count"] = self.preview_count
        data["test_time_augmentation"] = self.test_time_augmentation
        if self.derived_sources is not None:
            data["derived_sources"] = list(self.derived_sources)
        if self.tags is not None:
            data["strategy"] = self.tags.to_json()
        if self.forest is not None:
            data["strategy"] = self.forest.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        """The spec a run stored; UnknownOptions for keys (or a strategy) it does not know."""
        strategy = data.get("strategy") or {}
        name = strategy.get("name", "labels") if isinstance(strategy, dict) else strategy
        known = {"train", "channels", "classes", "strategy"}
        if name != "pretrain":
            known |= {
                "label_sources",
                "label_approval",
                "preview_count",
                "test_time_augmentation",
                "derived_sources",
            }
        unknown = sorted(set(data) - known)
        if name not in ("labels", "tags", "pretrain", "forest"):
            unknown.append(f"strategy {name!r}")
        if unknown:
            raise UnknownOptions(unknown)
        derived = data.get("derived_sources")
        return cls(
            train=TrainConfig.from_dict(data["train"]),
            channels=tuple(data["channels"]),
            classes=tuple(data["classes"]),
            label_sources=tuple(data.get("label_sources", ())),
            derived_sources=None if derived is None else tuple(derived),
            label_approval=str(data.get("label_approval", "all")),  # runs stored before approval: all
            preview_count=int(data.get("preview_count", 3)),
            test_time_augmentation=bool(data.get("test_time_augmentation", False)),
            tags=TagsOptions.from_json(strategy) if name == "tags" else None,
            pretrain=PretrainOptions.from_json(strategy) if name == "pretrain" else None,
            forest=ForestOptions.from_json(strategy) if name == "forest" else None,
        )


@dataclass(frozen=True)
class VersionInputs:
    """What predicting with a model version needs of its config: the channels it reads, scaled by
    the ranges measured on its training images, the label classes its outputs stand for, and
    whether to average over the image's 8 turns and mirrors."""

    channels: tuple[str, ...]
    classes: tuple[int, ...]
    ranges: list[tuple[float, float]] | None
    test_time_augmentation: bool

    @classmethod
    def of(cls, config: dict[str, Any]) -> VersionInputs:
        ranges = config.get("ranges")
        return cls(
            channels=tuple(config["channels"]),
            classes=tuple(config["classes"]),
            ranges=None if ranges is None else [(float(low), float(high)) for low, high in ranges],
            test_time_augmentation=bool(config.get("test_time_augmentation", False)),
        )


def version_spec(config: dict[str, Any]) -> tuple[RunSpec, list[tuple[float, float]] | None]:
    """A model version's config: its run's spec, and the channel ranges the worker measured."""
    ranges = config.get("ranges")
    spec = RunSpec.from_json({key: value for key, value in config.items() if key != "ranges"})
    return spec, None if ranges is None else [(float(low), float(high)) for low, high in ranges]


# Parsing options shared by the strategies ----------------------------------------------------


def whole_number(raw: Any, name: str, low: int, high: int) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}.")
    return raw


def fraction(raw: Any, name: str) -> float:
    if not isinstance(raw, int | float) or isinstance(raw, bool) or not 0.0 <= raw <= 1.0:
        raise InvalidInput(f"{name} must be a number from 0 to 1.")
    return float(raw)


def flag(raw: Any, name: str) -> bool:
    if not isinstance(raw, bool):
        raise InvalidInput(f"{name} must be true or false.")
    return raw


def label_sources(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or any(source not in LABEL_SOURCES for source in raw):
        raise InvalidInput(f"label_sources must be a non-empty list of {', '.join(LABEL_SOURCES)}.")
    return tuple(sorted(set(raw), key=LABEL_SOURCES.index))


def label_approval(raw: Any) -> str:
    if raw not in LABEL_APPROVALS:
        raise InvalidInput(
            'label_approval must be "all" (every human label, the default) or "approved" (only the labels '
            "of approved images, as approved)."
        )
    return str(raw)


def derived_sources(raw: Any) -> tuple[str, ...] | None:
    """Which derived layers (by source, e.g. "fluorescence-teacher", "model") a run uses; None = all."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(source, str) and source for source in raw):
        raise InvalidInput(
            'derived_sources must be a non-empty list of sources, e.g. ["fluorescence-teacher"].'
        )
    return tuple(sorted(set(raw)))


def channel_list(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(name, str) for name in raw):
        raise InvalidInput("channels must be a non-empty list of channel names.")
    return list(raw)


def train_config(
    options: dict[str, Any], *, in_channels: int, num_classes: int, defaults: dict[str, Any]
) -> TrainConfig:
    """The run's TrainConfig: the options (a preset's sizes among them, training/runs/presets.py)
    over the strategy's `defaults` over TrainConfig's own."""
    for fixed in SERVER_SET:
        if fixed in options:
            raise InvalidInput(f"config.{fixed} is set by the server from the project; leave it out.")
    values = {**defaults, **options, "in_channels": in_channels, "num_classes": num_classes}
    try:
        config = TrainConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"Invalid training config: {error}") from None
    _check_bounds(config)
    if config.encoder_weights not in (None, "imagenet"):
        raise InvalidInput('encoder_weights must be null or "imagenet".')
    if config.encoder_weights == "imagenet":
        try:  # refused now rather than failing on the worker: weights are never downloaded
            imagenet_weights_file(config.encoder, weights_dir())
        except WeightsUnavailable as error:
            raise InvalidInput(f"{error}.") from None
    return config


def _check_bounds(config: TrainConfig) -> None:
    if config.steps > MAX_STEPS or config.patch_size > MAX_PATCH_SIZE or config.batch_size > MAX_BATCH_SIZE:
        raise InvalidInput(
            f"Keep steps <= {MAX_STEPS}, patch_size <= {MAX_PATCH_SIZE} and batch_size <= {MAX_BATCH_SIZE}."
        )
    if config.learning_rate > MAX_LEARNING_RATE:
        raise InvalidInput(f"learning_rate must be at most {MAX_LEARNING_RATE}, not {config.learning_rate}.")
    if config.num_workers > MAX_DATA_WORKERS:
        raise InvalidInput(f"num_workers must be at most {MAX_DATA_WORKERS}.")
    # A patch is cut at patch_size x scale before it is resized: that crop is what costs memory.
    crop = config.patch_size * config.scale_range[1]
    if crop > settings.TRAIN_MAX_CROP:
        raise InvalidInput(
            f"scale_range {list(config.scale_range)} with patch_size {config.patch_size} cuts crops of up "
            f"to {crop:.0f} pixels square; keep patch_size x the larger scale <= {settings.TRAIN_MAX_CROP} "
            "(TRAIN_MAX_CROP)."
        )


def weights_dir() -> Path | None:
    """The configured folder of ImageNet encoder weights, if any (LESSLABEL_WEIGHTS_DIR)."""
    return Path(settings.LESSLABEL_WEIGHTS_DIR) if settings.LESSLABEL_WEIGHTS_DIR else None


def check_warm_start(version_id: int, version_config: dict[str, Any], spec: RunSpec) -> None:
    """A run can start from a model version that reads the same channels with the same network."""
    old = TrainConfig.from_dict(version_config["train"])
    channels = version_config.get("channels")
    if channels != list(spec.channels):
        raise InvalidInput(
            f"Model version {version_id} reads channels {channels}, this run {list(spec.channels)}."
        )
    if (old.architecture, old.encoder) != (spec.train.architecture, spec.train.encoder):
        raise InvalidInput(
            f"Model version {version_id} is a {old.architecture}/{old.encoder}; "
            f"warm-start a run of the same architecture and encoder."
        )
