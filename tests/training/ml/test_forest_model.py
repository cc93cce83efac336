"""A forest as a model version: its probabilities agree with the peer's classes, block by block,
a class it never saw gets probability 0, pseudo-mask weights count, and its file reads back."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pytest

from training.ml.forest_model import ForestModel, forest_bytes, forest_from_bytes
from training.ml.peer import PeerConfig, fit_sample, predict_peer, sample_peer

from .test_peer import discs, sparse_labels

CONFIG = PeerConfig(n_estimators=10, sigma_max=8.0)


def fitted(num_classes: int = 2) -> ForestModel:
    image, mask = discs(seed=0)
    sample = sample_peer([image], [sparse_labels(mask, per_class=20, seed=0)], CONFIG)
    return ForestModel(fit_sample(sample, CONFIG), CONFIG, num_classes=num_classes)


def test_its_classes_are_the_peers_and_its_entropy_is_normalised():
    model = fitted()
    image, _ = discs(seed=1)
    predicted = model.predict(image)
    assert predicted.probabilities.shape == (2, 64, 64)
    np.testing.assert_allclose(predicted.probabilities.sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(predicted.classes, predict_peer(model.forest, image, CONFIG))
    assert predicted.entropy.min() >= 0.0 and predicted.entropy.max() <= 1.0
    blocked = model.probabilities(image, block_rows=16)
    np.testing.assert_array_equal(blocked, predicted.probabilities)


def test_a_class_nobody_labelled_has_probability_zero():
    model = fitted(num_classes=3)
    probabilities = model.probabilities(discs(seed=1)[0])
    assert probabilities.shape == (3, 64, 64) and not probabilities[2].any()


def test_weights_make_pseudo_mask_pixels_count_less():
    image, mask = discs(seed=0)
    target = sparse_labels(mask, per_class=20, seed=0)
    weight = np.where(target == 1, 0.25, 1.0).astype(np.float32)
    sample = sample_peer([image], [target], CONFIG, weights=[weight])
    assert sorted(np.unique(sample.w)) == [0.25, 1.0]
    assert (sample.w[sample.y == 1] == 0.25).all()


def test_its_file_reads_back_and_another_file_is_refused():
    model = fitted()
    again = forest_from_bytes(forest_bytes(model))
    image, _ = discs(seed=2)
    assert again.config == CONFIG and again.num_classes == 2
    np.testing.assert_array_equal(again.probabilities(image), model.probabilities(image))
    other = io.BytesIO()
    joblib.dump({"format": "something else", "forest": model.forest}, other)
    with pytest.raises(ValueError, match="model version 7 is not a Lesslabel forest"):
        forest_from_bytes(other.getvalue(), where="model version 7")
