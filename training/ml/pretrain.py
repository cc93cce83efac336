"""Self-supervised pretraining: learn from images without labels, hand the weights to segmentation.

Two pretext tasks on the same segmentation-models-pytorch network the segmentation runs use:

- "masked": random squares of the input are blanked and the network reconstructs them; the loss
  counts only the blanked pixels, so it has to infer them from their surroundings (masked-image
  modelling, as in MAE, with a convolutional U-Net).
- "fluorescence": the network predicts a paired channel (a nucleus stain) from the input channel
  (brightfield). In labs that image both, every field is a free training pair for what the
  segmentation later needs: where the nuclei are. Stained pixels are rare (nuclei can cover 0.1%
  of a field), so part of the patches are centred on the brightest stain pixels, as segmentation
  patches are centred on rare classes; uniform patches alone teach mostly "predict background".

The result is the network's encoder and decoder; its head (which outputs pixels, not classes) is
left out, so `models.load_weights` starts a segmentation model of any class count from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from training.ml import checkpoint as ckpt
from training.ml.config import TrainConfig
from training.ml.data import capped_centres, window
from training.ml.models import create_network, load_weights
from training.ml.trainer import BaseTrainer, Callbacks, LoopConfig, seed_everything

TASKS = ("masked", "fluorescence")
HEAD_PREFIX = "segmentation_head."


# The fields a pretraining config has in common with the segmentation config of its network.
SHARED_WITH_NETWORK = (
    *("architecture", "encoder", "in_channels", "patch_size", "batch_size", "steps"),
    *("learning_rate", "weight_decay", "warmup_steps", "seed"),
)


@dataclass(frozen=True)
class PretrainConfig:
    """How to pretrain. `in_channels` are the inputs; the fluorescence task predicts `out_channels`."""

    task: str = "masked"
    architecture: str = "unet"
    encoder: str = "resnet18"
    in_channels: int = 1
    out_channels: int = 1
    patch_size: int = 128
    batch_size: int = 16
    steps: int = 500
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    mask_ratio: float = 0.5  # masked task: fraction of squares blanked
    mask_square: int = 16  # masked task: side of a blanked square in pixels
    stain_patch_fraction: float = 0.5  # fluorescence task: patches centred on bright stain pixels
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} is not one of {', '.join(TASKS)}")
        if self.task == "masked" and self.out_channels != self.in_channels:
            raise ValueError("the masked task reconstructs its input: out_channels must equal in_channels")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError("mask_ratio must be between 0 and 1")
        if not 0.0 <= self.stain_patch_fraction <= 1.0:
            raise ValueError("stain_patch_fraction must be between 0 and 1")
        if self.mask_square < 1 or self.patch_size % self.mask_square != 0:
            raise ValueError(f"mask_square must divide patch_size {self.patch_size}")
        # The network's own checks (architecture, encoder, patch size a multiple of 32, steps > 0).
        self.network()

    def network(self) -> TrainConfig:
        """The segmentation config whose network this pretrains (same architecture and encoder)."""
        return TrainConfig(**{name: getattr(self, name) for name in SHARED_WITH_NETWORK})

    @classmethod
    def like(cls, network: TrainConfig, *, task: str, out_channels: int, **overrides: Any) -> PretrainConfig:
        """Pretrain `network`'s architecture and encoder with its patches, batch, steps, learning
        rate and seed; `overrides` change any of them."""
        values = {name: getattr(network, name) for name in SHARED_WITH_NETWORK}
        return cls(**{**values, "task": task, "out_channels": out_channels, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown pretraining settings: {sorted(unknown)}")
        return cls(**data)


# "Bright stain": at or above this percentile of the target's pixels and above its median (so a flat
# target has none). Nuclei can cover 0.1% of a field; a looser cut would mostly pick background noise.
STAIN_PERCENTILE = 99.9


@dataclass
class PretrainSample:
    """One image: (C, H, W) float32 input; for the fluorescence task its (C', H, W) target.

    `bright` holds flat indices of the target's brightest pixels (any channel at or above its
    STAIN_PERCENTILE and above its median), capped as segmentation centres are: the centres of
    stain patches.
    """

    image: np.ndarray
    target: np.ndarray | None = None
    bright: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64), init=False, repr=False)

    def __post_init__(self) -> None:
        if self.target is None:
            return
        if self.target.shape[1:] != self.image.shape[1:]:
            raise ValueError(
                f"target {self.target.shape[1:]} and image {self.image.shape[1:]} differ in size"
            )
        planes = self.target.reshape(len(self.target), -1)
        level = np.percentile(planes, STAIN_PERCENTILE, axis=1)[:, None]
        median = np.median(planes, axis=1)[:, None]
        where = np.flatnonzero(((planes >= level) & (planes > median)).any(axis=0))
        self.bright = capped_centres(where, np.random.default_rng(0))


@dataclass
class PretrainResult:
    state: dict[str, torch.Tensor]  # encoder + decoder, no head
    losses: list[float]
    steps: int
    seconds: float


PretextBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # x, y, weight as pretext_batch


def pretrain(
    config: PretrainConfig,
    samples: list[PretrainSample],
    *,
    device: torch.device,
    callbacks: Callbacks | None = None,
    initial_weights: dict[str, torch.Tensor] | None = None,
) -> PretrainResult:
    """Train the pretext task for config.steps steps, from `initial_weights` if given (tensors whose
    names and shapes fit); cancellable every step."""
    _check_samples(config, samples)
    seed_everything(config.seed)
    model = create_network(config.network(), outputs=config.out_channels)
    if initial_weights is not None:
        load_weights(model, initial_weights)
    run = PretextTrainer(config, samples, model, device=device, callbacks=callbacks).run()
    state = {k: v for k, v in ckpt.cpu_state(model).items() if not k.startswith(HEAD_PREFIX)}
    return PretrainResult(state=state, losses=run.losses, steps=config.steps, seconds=run.seconds)


class PretextTrainer(BaseTrainer[PretextBatch]):
    """The base loop on pretext batches: masked MSE, warm-up + cosine, one epoch."""

    def __init__(
        self,
        config: PretrainConfig,
        samples: list[PretrainSample],
        model: nn.Module,
        *,
        device: torch.device,
        callbacks: Callbacks | None = None,
    ) -> None:
        loop = LoopConfig(
            steps=config.steps,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            warmup_steps=config.warmup_steps,
            amp=True,
        )
        super().__init__(model, loop, device=device, callbacks=callbacks)
        self.config = config
        self.samples = samples
        self.rng = np.random.default_rng(config.seed)

    def next_batch(self) -> PretextBatch:
        return pretext_batch(self.config, self.samples, self.rng)

    def compute_loss(self, batch: PretextBatch) -> torch.Tensor:
        x, y, weight = (t.to(self.device) for t in batch)
        with self.autocast():
            output = self.model(x)
        return masked_mse(output.float(), y, weight)


def pretext_batch(
    config: PretrainConfig, samples: list[PretrainSample], rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs, targets and per-pixel loss weights of one batch.

    Shape: x (B, C, P, P), y (B, C', P, P), weight (B, 1, P, P), all float32.
    """
    xs, ys, ws = [], [], []
    size = config.patch_size
    for _ in range(config.batch_size):
        sample = samples[int(rng.integers(len(samples)))]
        top, left = _patch_corner(config, sample, rng)
        height, width = sample.image.shape[1:]
        x = window(sample.image, top, left, size, fill=0.0)
        turns, flip = int(rng.integers(4)), bool(rng.random() < 0.5)
        if config.task == "masked":
            hidden = blanked_squares(size, config.mask_square, config.mask_ratio, rng)
            y, weight = x.copy(), hidden.astype(np.float32)
            x = np.where(hidden, np.float32(0.0), x)
        else:
            assert sample.target is not None
            y = window(sample.target, top, left, size, fill=0.0)
            weight = np.ones((size, size), dtype=np.float32)
        # Pixels outside the image (small images) teach nothing.
        weight = weight * window(np.ones((1, height, width), np.float32), top, left, size, fill=0.0)[0]
        x, y, weight = (_turn(a, turns, flip) for a in (x, y, weight[None]))
        xs.append(torch.from_numpy(x))
        ys.append(torch.from_numpy(y))
        ws.append(torch.from_numpy(weight))
    return torch.stack(xs), torch.stack(ys), torch.stack(ws)


def _patch_corner(
    config: PretrainConfig, sample: PretrainSample, rng: np.random.Generator
) -> tuple[int, int]:
    """Top-left corner of a patch inside the image: anywhere, or (fluorescence task, with
    probability stain_patch_fraction) around a bright stain pixel, jittered by up to a quarter."""
    size = config.patch_size
    height, width = sample.image.shape[1:]
    room_y, room_x = max(0, height - size), max(0, width - size)
    if config.task == "fluorescence" and len(sample.bright) and rng.random() < config.stain_patch_fraction:
        cy, cx = divmod(int(sample.bright[int(rng.integers(len(sample.bright)))]), width)
        jitter = rng.integers(-(size // 4), size // 4 + 1, size=2)
        top = int(np.clip(cy - size // 2 + jitter[0], 0, room_y))
        left = int(np.clip(cx - size // 2 + jitter[1], 0, room_x))
        return top, left
    return int(rng.integers(room_y + 1)), int(rng.integers(room_x + 1))


def blanked_squares(size: int, square: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """A (size, size) bool mask: a random `ratio` of the size/square grid's squares are True."""
    cells = size // square
    count = max(1, round(ratio * cells * cells))
    chosen = np.zeros(cells * cells, dtype=bool)
    chosen[rng.choice(cells * cells, count, replace=False)] = True
    return np.kron(chosen.reshape(cells, cells), np.ones((square, square), dtype=bool))


def masked_mse(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the weighted pixels (weight broadcast over channels)."""
    weight = weight.expand_as(target)
    return ((output - target) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)


def _turn(array: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    array = np.rot90(array, turns, axes=(-2, -1))
    if flip:
        array = array[..., ::-1]
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_samples(config: PretrainConfig, samples: list[PretrainSample]) -> None:
    if not samples:
        raise ValueError("pretraining needs at least one image")
    for sample in samples:
        if sample.image.shape[0] != config.in_channels:
            raise ValueError(
                f"an image has {sample.image.shape[0]} channels, the config {config.in_channels}"
            )
        if config.task == "fluorescence" and (
            sample.target is None or sample.target.shape[0] != config.out_channels
        ):
            raise ValueError(f"the fluorescence task needs a {config.out_channels}-channel target per image")
