"""The random-forest peer learns bright discs from a few labelled pixels; blocking changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from training.ml.peer import (
    PeerConfig,
    feature_rows,
    features,
    fit_peer,
    predict_peer,
    sample_labelled_pixels,
)

SIZE = 64
RADIUS = 7


def discs(seed: int, height: int = SIZE, width: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Bright discs (class 1) on a dark noisy background (class 0).

    Shape: -> image (1, H, W) float32 in 0..1, mask (H, W) int64.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), dtype=np.int64)
    for cy, cx in zip(rng.integers(10, height - 10, 4), rng.integers(10, width - 10, 4), strict=True):
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= RADIUS**2] = 1
    image = 0.2 + 0.5 * mask + rng.normal(0.0, 0.08, mask.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)[None], mask


def sparse_labels(mask: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """A few labelled pixels of each class, away from the edges, and -1 everywhere else.

    Shape: (H, W) int64 -> (H, W) int64.
    """
    rng = np.random.default_rng(seed)
    target = np.full(mask.shape, -1, dtype=np.int64)
    padded = np.pad(mask, 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5))
    for class_id in (0, 1):
        interior = np.flatnonzero((windows == class_id).all(axis=(-2, -1)))
        target.flat[rng.choice(interior, per_class, replace=False)] = class_id
    return target


def f1(prediction: np.ndarray, truth: np.ndarray) -> float:
    true_positive = np.sum((prediction == 1) & (truth == 1))
    return float(2 * true_positive / (np.sum(prediction == 1) + np.sum(truth == 1)))


def test_it_finds_the_discs_of_an_unseen_image_from_a_few_labelled_pixels():
    image, mask = discs(seed=0)
    target = sparse_labels(mask, per_class=10, seed=0)
    model = fit_peer([image], [target], PeerConfig())
    test_image, test_mask = discs(seed=1)
    prediction = predict_peer(model, test_image, PeerConfig())
    assert prediction.shape == (SIZE, SIZE) and prediction.dtype == np.int64
    assert f1(prediction, test_mask) > 0.9


@pytest.mark.parametrize(("sigma_max", "height", "block_rows"), [(4.0, 100, 16), (16.0, 200, 40)])
def test_blocked_prediction_equals_whole_image_prediction(sigma_max: float, height: int, block_rows: int):
    image, mask = discs(seed=2, height=height, width=48)
    config = PeerConfig(sigma_max=sigma_max, n_estimators=5)
    model = fit_peer([image], [sparse_labels(mask, per_class=20, seed=2)], config)
    whole = features(image, config)
    blocked = [feature_rows(image, config, top, top + block_rows) for top in range(0, height, block_rows)]
    assert np.array_equal(np.concatenate(blocked), whole)
    unblocked = model.predict(whole.reshape(-1, whole.shape[-1])).reshape(height, 48)
    assert np.array_equal(predict_peer(model, image, config, block_rows=block_rows), unblocked)


def test_blocked_training_fits_the_same_forest():
    image, mask = discs(seed=3, height=100, width=48)
    target = sparse_labels(mask, per_class=20, seed=3)
    config = PeerConfig(sigma_max=4.0, n_estimators=5)
    whole = predict_peer(fit_peer([image], [target], config), image, config)
    blocked = predict_peer(fit_peer([image], [target], config, block_rows=16), image, config)
    assert np.array_equal(blocked, whole)


def test_features_stack_channel_after_channel():
    image, _ = discs(seed=4)
    config = PeerConfig()
    single = features(image, config)
    double = features(np.concatenate([image, 1 - image]), config)
    assert single.shape == (SIZE, SIZE, 20) and single.dtype == np.float32
    assert double.shape == (SIZE, SIZE, 40)
    assert np.array_equal(double[..., :20], single)


def test_the_sample_keeps_every_class_within_the_limit():
    target = np.full((100, 120), -1, dtype=np.int64)
    target[:90] = 0
    target[95, :30] = 1
    chosen = sample_labelled_pixels(target, 1000, np.random.default_rng(0))
    classes = target.ravel()[chosen]
    assert len(chosen) <= 1000
    assert np.sum(classes == 1) == 30 and np.sum(classes == 0) == 970
    assert np.array_equal(chosen, sample_labelled_pixels(target, 1000, np.random.default_rng(0)))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (np.full((8, 8), -1), "no labelled pixels"),
        (np.zeros((4, 4), dtype=np.int64), r"shape \(4, 4\) but its image is \(8, 8\)"),
        (np.zeros((8, 8), dtype=np.int64), "label at least two classes"),
        (np.full((8, 8), -2), "values below -1"),
    ],
)
def test_it_refuses_unusable_targets(target: np.ndarray, message: str):
    image = np.zeros((1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        fit_peer([image], [target], PeerConfig())
