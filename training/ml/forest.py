"""The instant preview's fast pixel classifier: a small random forest on filter features.

A deep run takes minutes; this answers within a second of a stroke, as ilastik does. It reuses
the random-forest peer's features (training/ml/peer.py: scikit-image's multiscale_basic_features)
and its stratified sampling, but works at a *preview scale*: each image is shrunk by an integer
factor until its longer side is at most `max_side`, so a 1024x1024 image costs what a 512x512 one
does. The forest is small (few trees, bounded depth) and fit on a bounded, seeded sample of the
labelled pixels, so fitting takes a fraction of a second however much has been labelled.

Label maps follow the rest of the code: 0 = unlabelled, k > 0 = the class with index k. The
forest learns the class indices themselves, so its class map is a label map too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from training.ml.peer import UNKNOWN, PeerConfig, features, sample_labelled_pixels


@dataclass(frozen=True)
class ForestConfig:
    """Everything that decides the preview's features and forest.

    The defaults were measured on 2 busy cores (bench/README.md, "Instant preview"): fitting
    grows faster than the sample (8 000 / 16 000 / 30 000 pixels: 0.15 / 0.39 / 1.15 s for 10
    trees of depth 10), so the sample is capped at 12 000; two jobs were no faster than one
    for a forest this small, and one leaves the other core to the web server. Predicting
    512x512 pixels takes about 0.06 s.
    """

    max_side: int = 512
    sigma_min: float = 1.0
    sigma_max: float = 8.0  # at preview scale: 16 px of a 1024 px image
    n_estimators: int = 10
    max_depth: int | None = 10
    samples_per_image: int = 3_000
    max_samples: int = 12_000
    n_jobs: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_side < 16:
            raise ValueError(f"max_side must be at least 16; got {self.max_side}")
        if not 1 <= self.samples_per_image <= self.max_samples:
            raise ValueError("need 1 <= samples_per_image <= max_samples")
        self.peer()  # checks the sigmas, tree count and depth

    def peer(self) -> PeerConfig:
        """The peer's configuration with these features and trees (its features are ours)."""
        return PeerConfig(
            sigma_min=self.sigma_min,
            sigma_max=self.sigma_max,
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            max_samples_per_image=self.samples_per_image,
            seed=self.seed,
        )


@dataclass(frozen=True)
class Pixels:
    """Labelled pixels of one image: their features and class indices.

    Shape: x (N, F) float32, y (N,) int64 class indices (> 0).
    """

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class ForestPrediction:
    """Shape: classes (h, w) uint16 class indices; probability (h, w) float32, that of the class."""

    classes: np.ndarray
    probability: np.ndarray


def preview_factor(height: int, width: int, max_side: int) -> int:
    """The smallest integer shrink factor that brings the longer side to at most max_side."""
    return max(1, math.ceil(max(height, width) / max_side))


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each factor x factor block (edge rows and columns repeated to fill the last ones).

    Shape: (C, H, W) floating -> (C, ceil(H / factor), ceil(W / factor)) float32.
    """
    if factor == 1:
        return image.astype(np.float32, copy=False)
    channels, height, width = image.shape
    rows, cols = -(-height // factor), -(-width // factor)
    padded = np.pad(image, ((0, 0), (0, rows * factor - height), (0, cols * factor - width)), mode="edge")
    blocks = padded.reshape(channels, rows, factor, cols, factor)
    return blocks.mean(axis=(2, 4), dtype=np.float32)


def shrink_labels(label_map: np.ndarray, factor: int) -> np.ndarray:
    """A label map at preview scale: a preview pixel takes the class of a labelled pixel inside it.

    A 1-px scribble survives (a plain subsample would drop it); where labelled pixels of
    several classes share one preview pixel, one of them wins.

    Shape: (H, W) uint -> (ceil(H / factor), ceil(W / factor)) uint16, 0 still unlabelled.
    """
    if factor == 1:
        return label_map.astype(np.uint16, copy=False)
    height, width = label_map.shape
    out = np.zeros((-(-height // factor), -(-width // factor)), dtype=np.uint16)
    rows, cols = np.nonzero(label_map)
    out[rows // factor, cols // factor] = label_map[rows, cols]
    return out


def preview_features(image: np.ndarray, config: ForestConfig) -> np.ndarray:
    """Filter features of every pixel at preview scale.

    Shape: image (C, H, W) floating, normalised to about 0..1 -> (h, w, F) float32 with
    (h, w) = the image shrunk by preview_factor, F = 4 * C * number of scales.
    """
    if image.ndim != 3:
        raise ValueError(
            f"image must be (C, H, W); got shape {image.shape}. Add a channel axis with image[None]"
        )
    factor = preview_factor(image.shape[1], image.shape[2], config.max_side)
    return features(shrink(image, factor), config.peer())


def sample_pixels(features_map: np.ndarray, labels: np.ndarray, *, limit: int, seed: int) -> Pixels:
    """At most `limit` labelled pixels, stratified by class (the peer's sampling), seeded.

    Shape: features_map (h, w, F), labels (h, w) at the same scale with 0 = unlabelled.
    """
    if labels.shape != features_map.shape[:2]:
        raise ValueError(
            f"labels are {labels.shape} but the features are {features_map.shape[:2]}; "
            "shrink the label map with shrink_labels(label_map, preview_factor(...))"
        )
    target = np.where(labels > 0, labels.astype(np.int64), UNKNOWN)
    chosen = sample_labelled_pixels(target, limit, np.random.default_rng(seed))
    flat = features_map.reshape(-1, features_map.shape[-1])
    return Pixels(x=flat[chosen], y=target.ravel()[chosen])


def fit_forest(pixels: Sequence[Pixels], config: ForestConfig) -> RandomForestClassifier:
    """A forest on the labelled pixels of some images, at most config.max_samples of them.

    Raises ValueError when fewer than two classes are labelled: there is nothing to tell apart.
    """
    if not pixels:
        raise ValueError("no labelled pixels: label at least two classes")
    x = np.concatenate([p.x for p in pixels])
    y = np.concatenate([p.y for p in pixels])
    classes = np.unique(y)
    if classes.size < 2:
        found = f"only class {int(classes[0])} is" if classes.size else "nothing is"
        raise ValueError(f"{found} labelled; label at least two classes for a preview")
    if y.size > config.max_samples:
        keep = np.random.default_rng(config.seed).choice(y.size, config.max_samples, replace=False)
        x, y = x[np.sort(keep)], y[np.sort(keep)]
    model = RandomForestClassifier(
        n_estimators=config.n_estimators,
        max_depth=config.max_depth,
        n_jobs=config.n_jobs,
        random_state=config.seed,
    )
    model.fit(x, y)
    return model


def predict_forest(model: RandomForestClassifier, features_map: np.ndarray) -> ForestPrediction:
    """Class index and its probability at every pixel of a preview-scale feature map."""
    if features_map.shape[-1] != model.n_features_in_:
        raise ValueError(
            f"the image gives {features_map.shape[-1]} features but the forest was fit on "
            f"{model.n_features_in_}; images need the same channels and ForestConfig"
        )
    height, width = features_map.shape[:2]
    probabilities = model.predict_proba(features_map.reshape(-1, features_map.shape[-1]))
    best = probabilities.argmax(axis=1)
    classes = np.asarray(model.classes_)[best].astype(np.uint16)
    probability = probabilities[np.arange(best.size), best].astype(np.float32)
    return ForestPrediction(
        classes=classes.reshape(height, width), probability=probability.reshape(height, width)
    )
