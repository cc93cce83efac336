"""The ilastik-style peer: a random forest on multiscale filter features.

This is what users would otherwise pick ("trainable segmentation" in ilastik or scikit-image), so
benchmarks compare our network against it on the same images and labels. Features are scikit-image's
`multiscale_basic_features` (Gaussian-smoothed intensity, Sobel edges and Hessian eigenvalues at
sigma 1, 2, 4, 8, 16); the classifier is scikit-learn's `RandomForestClassifier`.

Features are computed in row blocks with a margin wide enough that every kept row sees exactly the
pixels it would see in the whole image, so a 2304x2304 image never holds its full feature stack
(20 float32 planes per channel) in memory, and blocked results equal whole-image results bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from skimage.feature import multiscale_basic_features
from sklearn.ensemble import RandomForestClassifier

UNKNOWN = -1
BLOCK_ROWS = 512
# multiscale_basic_features smooths with skimage.filters.gaussian at its default truncate of 4 sigma,
# then takes Sobel (1 pixel) and two nested central differences for the Hessian (2 pixels).
GAUSSIAN_TRUNCATE = 4.0
DERIVATIVE_REACH = 2


@dataclass(frozen=True)
class PeerConfig:
    """Everything that decides the peer's features and forest; one value per benchmark run."""

    sigma_min: float = 1.0
    sigma_max: float = 16.0
    n_estimators: int = 50
    max_depth: int | None = 10
    max_samples_per_image: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.sigma_min <= self.sigma_max:
            raise ValueError(f"need 0 < sigma_min <= sigma_max; got {self.sigma_min}, {self.sigma_max}")
        if self.n_estimators < 1 or (self.max_depth is not None and self.max_depth < 1):
            raise ValueError("n_estimators and max_depth (unless None) must be at least 1")
        if self.max_samples_per_image < 1:
            raise ValueError("max_samples_per_image must be at least 1")


def features(image: np.ndarray, config: PeerConfig) -> np.ndarray:
    """Intensity, edge and texture features of every pixel at each scale, channel after channel.

    Shape:
        image: (C, H, W) floating, normalised to about 0..1.
        returns: (H, W, F) float32 with F = 4 * C * number of scales (20 * C for the defaults).
    """
    _check_image(image, "image")
    stack = multiscale_basic_features(
        image, sigma_min=config.sigma_min, sigma_max=config.sigma_max, channel_axis=0
    )
    return np.asarray(stack, dtype=np.float32)


def feature_margin(config: PeerConfig) -> int:
    """Rows of context a block needs on each side so its features equal the whole image's."""
    return math.ceil(GAUSSIAN_TRUNCATE * config.sigma_max) + 1 + DERIVATIVE_REACH


def feature_rows(image: np.ndarray, config: PeerConfig, top: int, bottom: int) -> np.ndarray:
    """Features of rows top:bottom, computed on those rows plus a margin, which is then cropped.

    Shape: image (C, H, W) -> (bottom - top, W, F) float32, equal to features(image)[top:bottom].
    """
    margin = feature_margin(config)
    low, high = max(0, top - margin), min(image.shape[1], bottom + margin)
    return features(image[:, low:high], config)[top - low : bottom - low]


def sample_labelled_pixels(target: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """At most `limit` labelled pixels, stratified by class; all of them when there are few enough.

    Each class keeps its share of the labels (as when training on all of them, as ilastik does), but
    never fewer than min(its count, limit // (2 * classes)), so a rare class is not thinned away.

    Shape: target (H, W) int with -1 unknown -> (N,) int64 sorted flat indices, N <= limit.
    """
    flat = target.ravel()
    labelled = np.flatnonzero(flat != UNKNOWN)
    if labelled.size <= limit:
        return labelled
    classes, counts = np.unique(flat[labelled], return_counts=True)
    if classes.size > limit:
        raise ValueError(f"max_samples_per_image={limit} is below the {classes.size} labelled classes")
    picks = [
        rng.choice(labelled[flat[labelled] == class_id], quota, replace=False)
        for class_id, quota in zip(classes, _class_quotas(counts, limit), strict=True)
    ]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def _class_quotas(counts: np.ndarray, limit: int) -> np.ndarray:
    """A guaranteed floor per class, then the rest of the budget in proportion to what is left."""
    floor = np.minimum(counts, max(1, limit // (2 * counts.size)))
    rest = counts - floor
    spare = limit - int(floor.sum())
    return floor + (spare * rest) // int(rest.sum())


@dataclass(frozen=True)
class PeerSample:
    """The sampled labelled pixels of a training set: features, class ids and weights.

    Shape: x (N, F) float32, y (N,) int64 class ids, w (N,) float32.
    """

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray


def sample_peer(
    images: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    config: PeerConfig,
    *,
    weights: Sequence[np.ndarray | None] | None = None,
    block_rows: int = BLOCK_ROWS,
    on_image: Callable[[int], None] | None = None,
) -> PeerSample:
    """A seeded, stratified sample of each image's labelled pixels, with their features.

    `weights` (optional, one per image, None for all ones) weigh the sampled pixels in the fit, so
    pseudo-masks can count less than human labels; `on_image(done)` is called after each image.

    Shape:
        images: each (C, H, W) floating, normalised to about 0..1, the same C throughout.
        targets: each (H, W) integer, -1 unknown and class ids 0..K-1 elsewhere (scribbles or masks).
        weights: each (H, W) float32, or None.
    """
    _check_training_set(images, targets)
    per_image = list(weights) if weights is not None else [None] * len(images)
    rng = np.random.default_rng(config.seed)
    xs, ys, ws = [], [], []
    for done, (image, target, weight) in enumerate(zip(images, targets, per_image, strict=True), start=1):
        chosen = sample_labelled_pixels(target, config.max_samples_per_image, rng)
        xs.append(_features_at(image, chosen, config, block_rows))
        ys.append(target.ravel()[chosen].astype(np.int64))
        ws.append(np.ones(chosen.size, np.float32) if weight is None else weight.ravel()[chosen])
        if on_image is not None:
            on_image(done)
    return PeerSample(x=np.concatenate(xs), y=np.concatenate(ys), w=np.concatenate(ws))


def fit_sample(sample: PeerSample, config: PeerConfig) -> RandomForestClassifier:
    """The forest on a sample; ValueError when it holds fewer than two classes."""
    if np.unique(sample.y).size < 2:
        only = sample.y[0]
        raise ValueError(f"only class {only} is labelled; label at least two classes to train the peer")
    model = RandomForestClassifier(
        n_estimators=config.n_estimators, max_depth=config.max_depth, n_jobs=-1, random_state=config.seed
    )
    model.fit(sample.x, sample.y, sample_weight=sample.w)
    return model


def fit_peer(
    images: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    config: PeerConfig,
    *,
    block_rows: int = BLOCK_ROWS,
) -> RandomForestClassifier:
    """Train the forest on a seeded, stratified sample of each image's labelled pixels (shapes as
    in `sample_peer`)."""
    return fit_sample(sample_peer(images, targets, config, block_rows=block_rows), config)


def _features_at(
    image: np.ndarray, flat_indices: np.ndarray, config: PeerConfig, block_rows: int
) -> np.ndarray:
    """Features of the given sorted flat pixel indices, skipping blocks that hold none of them.

    Shape: image (C, H, W), flat_indices (N,) sorted -> (N, F) float32, in the order of flat_indices.
    """
    width = image.shape[2]
    rows, cols = np.divmod(flat_indices, width)
    parts = []
    for top, bottom in row_blocks(image.shape[1], block_rows):
        inside = (rows >= top) & (rows < bottom)
        if inside.any():
            block = feature_rows(image, config, top, bottom)
            parts.append(block[rows[inside] - top, cols[inside]])
    return np.concatenate(parts)


def predict_peer(
    model: RandomForestClassifier, image: np.ndarray, config: PeerConfig, *, block_rows: int = BLOCK_ROWS
) -> np.ndarray:
    """Class of every pixel, block by block, so memory stays bounded on large images.

    `config` must be the one the model was fitted with. `block_rows` changes memory, not results.

    Shape: image (C, H, W) floating -> (H, W) int64 class ids.
    """
    _check_image(image, "image")
    height, width = image.shape[1:]
    out = np.empty((height, width), dtype=np.int64)
    for top, bottom in row_blocks(height, block_rows):
        block = feature_rows(image, config, top, bottom)
        if block.shape[-1] != model.n_features_in_:
            raise ValueError(
                f"the image gives {block.shape[-1]} features but the model was trained on "
                f"{model.n_features_in_}; use the channel count and PeerConfig of fit_peer"
            )
        out[top:bottom] = model.predict(block.reshape(-1, block.shape[-1])).reshape(bottom - top, width)
    return out


def row_blocks(height: int, block_rows: int) -> Iterator[tuple[int, int]]:
    if block_rows < 1:
        raise ValueError(f"block_rows must be at least 1; got {block_rows}")
    for top in range(0, height, block_rows):
        yield top, min(top + block_rows, height)


def _check_training_set(images: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> None:
    if len(images) != len(targets):
        raise ValueError(f"got {len(images)} images but {len(targets)} targets; pass one target per image")
    if not images:
        raise ValueError("no images to train the peer on")
    for index, (image, target) in enumerate(zip(images, targets, strict=True)):
        _check_image(image, f"image {index}")
        _check_target(target, image.shape[1:], index)
        if image.shape[0] != images[0].shape[0]:
            raise ValueError(f"image {index} has {image.shape[0]} channels, image 0 has {images[0].shape[0]}")


def _check_image(image: np.ndarray, name: str) -> None:
    if image.ndim != 3:
        raise ValueError(
            f"{name} must be (C, H, W); got shape {image.shape}. Add a channel axis with image[None]"
        )
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name} must be floating and normalised to about 0..1; got {image.dtype}")


def _check_target(target: np.ndarray, size: tuple[int, ...], index: int) -> None:
    if target.shape != size:
        raise ValueError(f"target {index} has shape {target.shape} but its image is {size}; they must match")
    if not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"target {index} must hold integer class ids; got {target.dtype}")
    if (target < UNKNOWN).any():
        raise ValueError(f"target {index} has values below -1; use -1 for unknown and 0..K-1 for classes")
    if not (target != UNKNOWN).any():
        raise ValueError(f"target {index} has no labelled pixels (all -1); label some or leave the image out")
