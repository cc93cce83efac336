"""Simulated scribbles stay inside their class and within budget."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.synthetic import synthetic_field
from training.ml.scribbles import simulate_scribbles


@pytest.fixture(scope="module")
def field():
    return synthetic_field(seed=3, height=192, width=192, nuclei=10, radius=(6, 12))


def test_scribbles_lie_inside_their_true_class(field):
    classes = field.mask.astype(np.int64)
    scribbles = simulate_scribbles(classes, budget=0.05, seed=1, instances=field.instances)
    painted = scribbles >= 0
    assert (scribbles[painted] == classes[painted]).all()
    assert (scribbles == 0).any() and (scribbles == 1).any()


def test_the_budget_holds_and_every_object_gets_a_stroke_when_it_allows(field):
    classes = field.mask.astype(np.int64)
    scribbles = simulate_scribbles(classes, budget=0.05, seed=1, instances=field.instances)
    assert (scribbles >= 0).mean() <= 0.05
    for label in range(1, int(field.instances.max()) + 1):
        if (field.instances == label).sum() > 60:
            assert (scribbles[field.instances == label] == 1).any(), label
    tiny = simulate_scribbles(classes, budget=0.002, seed=1, instances=field.instances)
    assert (tiny >= 0).mean() <= 0.002


def test_scribbles_are_deterministic_per_seed(field):
    classes = field.mask.astype(np.int64)
    one = simulate_scribbles(classes, seed=5)
    assert np.array_equal(one, simulate_scribbles(classes, seed=5))
    assert not np.array_equal(one, simulate_scribbles(classes, seed=6))
