"""The instant preview's forest: learns planted blobs from scribbles at preview scale, ignores
unlabelled pixels, is deterministic with a seed and never fits on more than its sample bound."""

from __future__ import annotations

import numpy as np
import pytest

from training.ml.forest import (
    ForestConfig,
    Pixels,
    fit_forest,
    predict_forest,
    preview_factor,
    preview_features,
    sample_pixels,
    shrink,
    shrink_labels,
)

BACKGROUND, BLOB = 1, 2  # class indices, as in label maps (0 = unlabelled)


def blobs(seed: int, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Bright discs (BLOB) on a dark noisy background (BACKGROUND).

    Shape: -> image (1, size, size) float32 about 0..1, truth (size, size) uint16 class indices.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.full((size, size), BACKGROUND, dtype=np.uint16)
    for cy, cx in rng.integers(12, size - 12, size=(5, 2)):
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= 8**2] = BLOB
    image = 0.2 + 0.5 * (truth == BLOB) + rng.normal(0.0, 0.06, truth.shape)
    return image.astype(np.float32)[None], truth


def scribbles(truth: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """A few labelled pixels per class, each well inside its region; 0 elsewhere."""
    rng = np.random.default_rng(seed)
    labels = np.zeros_like(truth)
    padded = np.pad(truth, 3, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (7, 7))
    for value in (BACKGROUND, BLOB):
        interior = np.flatnonzero((windows == value).all(axis=(-2, -1)))
        labels.flat[rng.choice(interior, per_class, replace=False)] = value
    return labels


def fitted(image: np.ndarray, labels: np.ndarray, config: ForestConfig) -> tuple[object, np.ndarray]:
    feats = preview_features(image, config)
    factor = preview_factor(*labels.shape, config.max_side)
    model = fit_forest([sample_pixels(feats, shrink_labels(labels, factor), limit=1000, seed=0)], config)
    return model, feats


def test_it_learns_planted_blobs_from_scribbles_and_labels_an_unseen_image():
    image, truth = blobs(seed=0)
    config = ForestConfig()
    model, _ = fitted(image, scribbles(truth, per_class=15, seed=0), config)
    other, other_truth = blobs(seed=1)
    prediction = predict_forest(model, preview_features(other, config))
    assert prediction.classes.dtype == np.uint16 and set(np.unique(prediction.classes)) == {BACKGROUND, BLOB}
    assert np.mean(prediction.classes == other_truth) > 0.95
    assert np.all((prediction.probability > 0.5 - 1e-6) & (prediction.probability <= 1.0))


def test_it_works_at_preview_scale_on_a_large_image():
    image, truth = blobs(seed=2, size=200)
    config = ForestConfig(max_side=64)  # factor 4: 200 px -> 50 px
    model, feats = fitted(image, scribbles(truth, per_class=40, seed=1), config)
    assert feats.shape[:2] == (50, 50)
    prediction = predict_forest(model, feats)
    assert prediction.classes.shape == (50, 50)
    coarse_truth = truth[1::4, 1::4]  # a pixel well inside each 4x4 block
    assert np.mean(prediction.classes == coarse_truth) > 0.9


def test_unlabelled_pixels_are_ignored():
    image, truth = blobs(seed=3)
    labels = scribbles(truth, per_class=10, seed=2)
    feats = preview_features(image, ForestConfig())
    pixels = sample_pixels(feats, labels, limit=10_000, seed=0)
    assert pixels.y.size == np.count_nonzero(labels) == 20
    assert set(pixels.y.tolist()) == {BACKGROUND, BLOB}
    # The features are exactly those of the labelled pixels, nothing of the unlabelled rest.
    expected = feats[labels > 0]
    assert sorted(map(tuple, pixels.x)) == sorted(map(tuple, expected))


def test_it_is_deterministic_with_a_seed_and_changes_with_another():
    image, truth = blobs(seed=4)
    labels = scribbles(truth, per_class=200, seed=3)
    feats = preview_features(image, ForestConfig())

    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        config = ForestConfig(seed=seed)
        model = fit_forest([sample_pixels(feats, labels, limit=100, seed=seed)], config)
        return sample_pixels(feats, labels, limit=100, seed=seed).y, predict_forest(model, feats).probability

    first, again, other = run(0), run(0), run(1)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_the_sample_is_bounded_per_image_and_in_total_and_keeps_both_classes():
    image, truth = blobs(seed=5)
    feats = preview_features(image, ForestConfig())
    everything = sample_pixels(feats, truth, limit=500, seed=0)  # a dense mask: 9216 labelled pixels
    assert 450 <= everything.y.size <= 500 and set(everything.y.tolist()) == {BACKGROUND, BLOB}
    config = ForestConfig(samples_per_image=500, max_samples=800, n_estimators=3)
    model = fit_forest([everything, everything], config)
    # Each tree draws a bootstrap of the samples it was given: the bound shows in the root's count.
    assert all(tree.tree_.n_node_samples[0] <= 800 for tree in model.estimators_)
    assert sum(tree.tree_.weighted_n_node_samples[0] for tree in model.estimators_) == 3 * 800


def test_it_refuses_one_class_with_a_message_that_says_what_to_do():
    image, truth = blobs(seed=6)
    feats = preview_features(image, ForestConfig())
    only_blob = np.where(truth == BLOB, BLOB, 0).astype(np.uint16)
    with pytest.raises(ValueError, match="label at least two classes"):
        fit_forest([sample_pixels(feats, only_blob, limit=100, seed=0)], ForestConfig())
    with pytest.raises(ValueError, match="label at least two classes"):
        fit_forest(
            [Pixels(np.zeros((0, feats.shape[-1]), np.float32), np.zeros(0, np.int64))], ForestConfig()
        )
    with pytest.raises(ValueError, match="shrink_labels"):
        sample_pixels(feats, truth[:10], limit=10, seed=0)


def test_shrinking_averages_blocks_and_keeps_thin_labels():
    image = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
    small = shrink(image, 2)
    assert small.shape == (2, 3, 3)
    assert small[0, 0, 0] == pytest.approx(np.mean([0, 1, 6, 7]))
    assert small[1, 2, 2] == pytest.approx(np.mean([58, 59, 58, 59]))  # row 4 repeated for row 5
    labels = np.zeros((8, 8), np.uint16)
    labels[3, :] = 2  # a one-pixel scribble
    assert np.array_equal(shrink_labels(labels, 4), [[2, 2], [0, 0]])
    assert preview_factor(1024, 1024, 512) == 2 and preview_factor(1025, 10, 512) == 3
    assert preview_factor(300, 200, 512) == 1
