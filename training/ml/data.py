"""Training data: normalised images, targets that mix human and derived labels, patch sampling.

Targets hold class ids 0..K-1 and -1 for unknown pixels. Sparse scribbles label few pixels and
objects such as nuclei can cover 1% of an image, so patches are centred on labelled pixels of a
class drawn uniformly among the classes present: every class gets seen, however rare.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from training.ml.config import TrainConfig
from training.ml.inference import tile_starts

UNKNOWN = -1
OUTSIDE = -2  # a patch's pixels beyond its image's border: unknown too, but not unlabelled
MAX_CENTRES_PER_CLASS = 200_000


def normalize(
    planes: np.ndarray,
    *,
    low: float = 1.0,
    high: float = 99.8,
    ranges: list[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Scale each channel so its robust range maps to about 0..1.

    The range is the image's own percentiles, or, given `ranges`, fixed (low, high) values per
    channel measured once over a set of images (`channel_ranges`). Fixed ranges keep an empty
    field dark: its own percentiles span only its noise, which stretched to 0..1 looks like
    objects (bbbc039's blank test field became 61% "nuclei" that way).

    Shape: (C, H, W) any dtype -> (C, H, W) float32.
    """
    if planes.ndim != 3:
        raise ValueError(f"expected (channels, height, width), got shape {planes.shape}")
    if ranges is not None and len(ranges) != planes.shape[0]:
        raise ValueError(f"{len(ranges)} channel ranges for an image of {planes.shape[0]} channels")
    out = np.empty(planes.shape, dtype=np.float32)
    for c, plane in enumerate(planes):
        if ranges is None:
            lo, hi = np.percentile(_subsample(plane), (low, high))
        else:
            lo, hi = ranges[c]
        scale = float(hi - lo) if hi > lo else 1.0
        out[c] = (plane.astype(np.float32) - float(lo)) / scale
    return np.clip(out, -1.0, 2.0, out=out)


def channel_ranges(
    images: list[np.ndarray], *, low: float = 1.0, high: float = 99.8
) -> list[tuple[float, float]]:
    """Percentiles of each channel over the pixels of all `images` together (subsampled).

    Shape: a list of (C, H, W) arrays with the same C -> C pairs (low, high) of floats.
    """
    if not images:
        raise ValueError("channel ranges need at least one image")
    ranges = []
    for c in range(images[0].shape[0]):
        pooled = np.concatenate([_subsample(image[c]).ravel() for image in images])
        lo, hi = np.percentile(pooled, (low, high))
        ranges.append((float(lo), float(hi)))
    return ranges


def _subsample(plane: np.ndarray) -> np.ndarray:
    step = max(1, int(np.sqrt(plane.size / 1_000_000)))
    return plane[::step, ::step]


def merge_targets(
    human: np.ndarray | None, derived: np.ndarray | None, *, derived_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """One target and its pixel weights: human labels win, derived labels fill unknown pixels.

    Shape: (H, W) int class maps with -1 unknown -> target (H, W) int64, weight (H, W) float32.
    """
    if human is None and derived is None:
        raise ValueError("an image needs human or derived labels to be trained on")
    shape = (human if human is not None else derived).shape  # type: ignore[union-attr]
    target = np.full(shape, UNKNOWN, dtype=np.int64)
    weight = np.zeros(shape, dtype=np.float32)
    if derived is not None:
        known = derived >= 0
        target[known] = derived[known]
        weight[known] = derived_weight
    if human is not None:
        known = human >= 0
        target[known] = human[known]
        weight[known] = 1.0
    return target, weight


@dataclass
class Sample:
    """One training image: (C, H, W) float32 input, (H, W) int64 target, (H, W) float32 weight."""

    image: np.ndarray
    target: np.ndarray
    weight: np.ndarray | None = None
    centres: dict[int, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.image.shape[1:] != self.target.shape:
            raise ValueError(f"image {self.image.shape[1:]} and target {self.target.shape} differ in size")
        if self.weight is None:
            self.weight = (self.target >= 0).astype(np.float32)
        self.centres = class_centres(self.target.ravel())

    @cached_property
    def human_centres(self) -> dict[int, np.ndarray]:
        """`centres` for the pixels a person labelled, where the image also has derived labels
        (which weigh less); empty where every labelled pixel is human or every one derived.
        Found on first use, so only training that asks for `human_patch_fraction` pays for it."""
        assert self.weight is not None
        flat, weights = self.target.ravel(), self.weight.ravel()
        labelled = weights[flat >= 0]
        if not labelled.size or labelled.min() >= 1.0 or labelled.max() < 1.0:
            return {}
        return class_centres(np.where(weights >= 1.0, flat, UNKNOWN))


def class_centres(flat: np.ndarray) -> dict[int, np.ndarray]:
    """By class, the flat indices of a target's pixels of that class (capped, reproducibly)."""
    rng = np.random.default_rng(0)
    return {
        int(class_id): capped_centres(np.flatnonzero(flat == class_id), rng)
        for class_id in np.unique(flat[flat >= 0]).tolist()
    }


def capped_centres(where: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat pixel indices to centre patches on, at most MAX_CENTRES_PER_CLASS of them (a random
    subset), so a large image's centres stay small in memory."""
    if len(where) > MAX_CENTRES_PER_CLASS:
        return rng.choice(where, MAX_CENTRES_PER_CLASS, replace=False)
    return where


def class_weights(samples: list[Sample], num_classes: int) -> np.ndarray:
    """Inverse square-root label frequency, mean 1: rare classes count more, but not wildly."""
    counts = np.zeros(num_classes, dtype=np.float64)
    for sample in samples:
        labelled = sample.target[sample.target >= 0]
        counts += np.bincount(labelled, minlength=num_classes)[:num_classes]
    present = counts > 0
    weights = np.ones(num_classes, dtype=np.float64)
    weights[present] = 1.0 / np.sqrt(counts[present] / counts[present].sum())
    weights[present] /= weights[present].mean()
    return weights.astype(np.float32)


class PatchSampler:
    """Draws augmented training batches from samples, reproducibly for a seed."""

    def __init__(self, samples: list[Sample], config: TrainConfig, *, seed: int) -> None:
        if not samples:
            raise ValueError("no training images: label at least one image")
        if not any(s.centres for s in samples):
            raise ValueError("the training images have no labelled pixels")
        self.samples = [s for s in samples if s.centres]
        self.config = config
        self.rng = np.random.default_rng(seed)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Shape: x (B, C, P, P) float32, y (B, P, P) int64, w (B, P, P) float32."""
        patches = [self.patch() for _ in range(self.config.batch_size)]
        xs, ys, ws = zip(*patches, strict=True)
        return torch.stack(xs), torch.stack(ys), torch.stack(ws)

    def patch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sample = self.samples[int(self.rng.integers(len(self.samples)))]
        size = self.config.patch_size
        scale = 1.0
        if self.config.augment:
            scale = float(np.exp(self.rng.uniform(*np.log(self.config.scale_range))))
        crop = max(8, round(size * scale))
        cy, cx = self._centre(sample)
        top = cy - crop // 2 + int(self.rng.integers(-crop // 4, crop // 4 + 1))
        left = cx - crop // 2 + int(self.rng.integers(-crop // 4, crop // 4 + 1))
        assert sample.weight is not None
        x = torch.from_numpy(window(sample.image, top, left, crop, fill=0.0))
        y = torch.from_numpy(window(sample.target[None], top, left, crop, fill=OUTSIDE)[0])
        w = torch.from_numpy(window(sample.weight[None], top, left, crop, fill=0.0)[0])
        if crop != size:
            x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False)[0]
            y = F.interpolate(y[None, None].float(), size=(size, size), mode="nearest")[0, 0].long()
            w = F.interpolate(w[None, None], size=(size, size), mode="nearest")[0, 0]
        if self.config.augment:
            x, y, w = self._augment(x, y, w)
        return x.contiguous(), y.contiguous(), w.contiguous()

    def _centre(self, sample: Sample) -> tuple[int, int]:
        height, width = sample.target.shape
        if self.rng.random() >= self.config.labelled_patch_fraction:
            return int(self.rng.integers(height)), int(self.rng.integers(width))
        centres = sample.centres
        # Drawn only when asked for (`and` stops first), so the default's random stream and
        # results stay as they were.
        fraction = self.config.human_patch_fraction
        if fraction and sample.human_centres and self.rng.random() < fraction:
            centres = sample.human_centres
        classes = list(centres)
        if self.config.balance_classes:
            class_id = classes[int(self.rng.integers(len(classes)))]
            where = centres[class_id]
        else:
            where = np.concatenate([centres[c] for c in classes])
        flat = int(where[int(self.rng.integers(len(where)))])
        return divmod(flat, width)

    def _augment(
        self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        turns = int(self.rng.integers(4))
        if turns:
            x, y, w = (torch.rot90(t, turns, dims=(-2, -1)) for t in (x, y, w))
        if self.rng.random() < 0.5:
            x, y, w = (torch.flip(t, dims=(-1,)) for t in (x, y, w))
        channels = x.shape[0]
        gain = torch.from_numpy(self.rng.uniform(0.8, 1.2, size=(channels, 1, 1)).astype(np.float32))
        bias = torch.from_numpy(self.rng.uniform(-0.1, 0.1, size=(channels, 1, 1)).astype(np.float32))
        contrast = float(self.rng.uniform(0.8, 1.25))
        mean = x.mean(dim=(-2, -1), keepdim=True)
        x = ((x - mean) * contrast + mean) * gain + bias
        # Drawn only when asked for, so the default's random stream and results stay as they were.
        if self.config.imaging_augmentation:
            x = self._imaging(x)
        return x, y, w

    def _imaging(self, x: torch.Tensor) -> torch.Tensor:
        """What another microscope or day changes: a gamma (0.7-1.4, on the magnitude of the
        normalised values), defocus (Gaussian blur of sigma up to 1.5 px, half the time), sensor
        noise (sd up to 0.05) and uneven illumination (a linear ramp of up to 0.1 across the patch).

        Shape: (C, P, P) -> (C, P, P).
        """
        gamma = float(np.exp(self.rng.uniform(np.log(0.7), np.log(1.4))))
        x = torch.sign(x) * x.abs() ** gamma
        sigma = float(self.rng.uniform(0.0, 1.5)) if self.rng.random() < 0.5 else 0.0
        if sigma >= 0.3:
            radius = int(np.ceil(3 * sigma))
            x = gaussian_blur(x, kernel_size=[2 * radius + 1] * 2, sigma=[sigma, sigma])
        noise = float(self.rng.uniform(0.0, 0.05))
        x = x + noise * torch.from_numpy(self.rng.standard_normal(x.shape).astype(np.float32))
        slope = self.rng.uniform(-0.1, 0.1, size=2)
        ramp = torch.linspace(-0.5, 0.5, x.shape[-1])
        return x + float(slope[0]) * ramp[:, None] + float(slope[1]) * ramp[None, :]


def covering_tiles(
    samples: list[Sample], *, largest: int, limit: int, batch_size: int, seed: int
) -> Iterator[torch.Tensor]:
    """Batches of tiles that cover every image once, labelled pixels or not: what the network
    meets when it predicts whole images (training patches are centred on labels). Over `limit`
    tiles, a random subset of them (reproducible for a seed).

    Tiles are square, of the largest multiple of 32 up to `largest` that fits every image, so no
    tile is mostly padding. Shape of each batch: (B, C, size, size) float32, B <= batch_size.
    """
    shortest = min(min(s.image.shape[1:]) for s in samples)
    size = max(32, min(largest, shortest // 32 * 32))
    places = [
        (index, top, left)
        for index, sample in enumerate(samples)
        for top in tile_starts(sample.image.shape[1], size, size)
        for left in tile_starts(sample.image.shape[2], size, size)
    ]
    if len(places) > limit:
        chosen = np.random.default_rng(seed).choice(len(places), limit, replace=False)
        places = [places[i] for i in sorted(chosen)]
    for first in range(0, len(places), batch_size):
        tiles = [
            window(samples[i].image, top, left, size, fill=0.0)
            for i, top, left in places[first : first + batch_size]
        ]
        yield torch.from_numpy(np.stack(tiles))


def window(array: np.ndarray, top: int, left: int, size: int, *, fill: float) -> np.ndarray:
    """array[:, top:top+size, left:left+size], filled with `fill` where it leaves the image.

    Shape: (C, H, W) -> (C, size, size).
    """
    channels, height, width = array.shape
    out = np.full((channels, size, size), fill, dtype=array.dtype)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, height), min(left + size, width)
    if y0 < y1 and x0 < x1:
        out[:, y0 - top : y1 - top, x0 - left : x1 - left] = array[:, y0:y1, x0:x1]
    return out
