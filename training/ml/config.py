"""TrainConfig: every choice of a training run in one frozen, serialisable value.

It is stored on the run and inside every checkpoint, so a model version always says how it was
made, and a resumed run continues with exactly the settings it started with.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ARCHITECTURES = {
    "unet": "Unet",
    "unetplusplus": "UnetPlusPlus",
    "fpn": "FPN",
    "deeplabv3plus": "DeepLabV3Plus",
}
ENCODERS = ("resnet18", "resnet34", "efficientnet-b0", "mobilenet_v2")
# Seeds numpy, torch and Python's random all take.
MAX_SEED = 2**32 - 1
# Options that are weights, rates or counts: never below zero.
NON_NEGATIVE = (
    "weight_decay",
    "warmup_steps",
    "dice_weight",
    "pairwise_weight",
    "derived_weight",
    "early_stopping_epochs",
    "num_workers",
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# TrainConfig's field types (as written below) -> (does a JSON value fit, how to say what fits).
_JSON_TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "float": (lambda v: _is_number(v) and math.isfinite(v), "a finite number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "tuple[float, float]": (
        lambda v: isinstance(v, (tuple, list)) and all(_is_number(x) and math.isfinite(x) for x in v),
        "two finite numbers",
    ),
    "dict[str, Any]": (lambda v: isinstance(v, dict), "an object"),
}


@dataclass(frozen=True)
class TrainConfig:
    """How to train one segmentation model.

    Classes are ids 0..num_classes-1 in targets (-1 = unknown, ignored by the loss).
    """

    in_channels: int = 1
    num_classes: int = 2
    architecture: str = "unet"
    encoder: str = "resnet18"
    encoder_weights: str | None = None  # "imagenet": only from a file on disk, see models.py
    patch_size: int = 256
    batch_size: int = 8
    steps: int = 1000
    steps_per_epoch: int = 100
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    dice_weight: float = 0.5
    # Pairwise term on patches with unknown pixels (scribbles, pseudo-masks with unknown bands):
    # neighbours of similar intensity (within about sigma, in normalised units) share a class.
    pairwise_weight: float = 4.0
    pairwise_sigma: float = 0.05
    derived_weight: float = 0.5  # weight of pseudo-mask pixels relative to human labels
    balance_classes: bool = True  # patches centred on each labelled class equally often
    # A loss weighted by inverse square-root class frequency on top of balanced patches counts the
    # imbalance twice and over-calls rare classes (aisegcell nuclei: precision 0.46, recall 0.83,
    # pixel F1 0.591 with it; 0.62 / 0.71, 0.663 without; bench/README.md). Off by default.
    weight_classes: bool = False
    # Train only the decoder and head, keeping the encoder (weights and batch-norm statistics) as a
    # warm start or ImageNet gave it. With few labelled images, fine-tuning the whole network on
    # them forgets what pretraining learnt (aisegcell, 4 fields, mean of 3 seeds: pixel F1 0.26
    # frozen against 0.19 from scratch; fine-tuned in full it gained nothing; bench/README.md).
    # With many labelled images it costs (12 fields: 0.555 against 0.624). Needs starting weights.
    freeze_encoder: bool = False
    # Measure batch-norm statistics afresh on tiles covering the training images when training
    # ends (and before each validation), instead of keeping the running averages of label-centred
    # patches. Whole images hold more background than those patches, so this also shifts calls
    # towards the rare class: aisegcell, 12 fields, pixel F1 0.674 against 0.624 for the same
    # seed (and 0.640 where one seed's running averages gave 0.413), but bbbc039 at 4 images 0.968
    # against 0.971, and 96-px synthetic fields with scribbles lose much precision. Off by default
    # until it is measured on more data (bench/README.md).
    recompute_batch_norm: bool = False
    labelled_patch_fraction: float = 0.9  # patches centred on labelled pixels vs anywhere
    # Of the patches centred on labels, the share centred on human labels where an image has
    # derived ones too. At 0 a patch's centre is any labelled pixel, so a few strokes over a
    # pseudo-mask that fills the image are rarely at a centre. On aisegcell (0.1% strokes over the
    # stain's pseudo-masks) 0.5 scored 0.671 against 0.675 at 0 (bench/README.md), so it is off.
    human_patch_fraction: float = 0.0
    augment: bool = True
    scale_range: tuple[float, float] = (0.75, 1.33)
    # With `augment`, also vary what differs between microscopes and days on top of the intensity
    # jitter: a gamma, defocus blur, sensor noise and an illumination gradient across the patch
    # (PatchSampler._imaging). Measured across aisegcell's experiments in bench/README.md.
    imaging_augmentation: bool = False
    early_stopping_epochs: int = 0  # 0 = never stop early
    seed: int = 0
    num_workers: int = 0
    amp: bool = True  # mixed precision on CUDA; ignored on the CPU
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_types()
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture {self.architecture!r} is not one of {', '.join(ARCHITECTURES)}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder {self.encoder!r} is not one of {', '.join(ENCODERS)}")
        if self.patch_size % 32 != 0 or self.patch_size < 32:
            raise ValueError(
                f"patch_size {self.patch_size} must be a multiple of 32 (the encoders downsample 32x)"
            )
        if self.num_classes < 2 or self.in_channels < 1:
            raise ValueError("a model needs at least 1 input channel and 2 classes")
        if self.steps < 1 or self.batch_size < 1 or self.steps_per_epoch < 1:
            raise ValueError("steps, steps_per_epoch and batch_size must be positive")
        for name in ("learning_rate", "pairwise_sigma"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        for name in NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, not {self.seed}")
        for name in ("labelled_patch_fraction", "human_patch_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a fraction from 0 to 1, not {getattr(self, name)}")
        if len(self.scale_range) != 2 or not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"scale_range {list(self.scale_range)} must be two factors 0 < low <= high")

    def _check_types(self) -> None:
        """Refuse values of the wrong JSON type: "no" for a flag is truthy, and "5" for a count
        would fail deep in a worker instead of here. Whole numbers given for floats become floats."""
        for item in dataclasses.fields(self):
            if item.type not in _JSON_TYPES:
                raise TypeError(f"TrainConfig.{item.name} has a type ({item.type}) that is not checked")
            accepts, wanted = _JSON_TYPES[item.type]
            value = getattr(self, item.name)
            if not accepts(value):
                raise ValueError(f"{item.name} must be {wanted}, not {value!r}")
            if item.type == "float":
                object.__setattr__(self, item.name, float(value))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["scale_range"] = list(self.scale_range)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        values = dict(data)
        if "scale_range" in values:
            values["scale_range"] = tuple(values["scale_range"])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)
