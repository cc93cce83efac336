"""Simulated scribbles stay inside their class, off the boundaries and within budget."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from training.ml.scribbles import simulate_scribbles

DISCS = [(20, 20), (20, 60), (60, 20), (85, 85)]  # class 1, one instance each, radius 7


def field() -> tuple[np.ndarray, np.ndarray]:
    """96x96: four class-1 discs with instances, a class-2 block without one, background 0."""
    yy, xx = np.mgrid[:96, :96]
    classes = np.zeros((96, 96), np.int64)
    instances = np.zeros((96, 96), np.int64)
    for label, (cy, cx) in enumerate(DISCS, start=1):
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= 49
        classes[inside], instances[inside] = 1, label
    classes[50:70, 50:75] = 2
    return classes, instances


def test_scribbles_lie_inside_their_true_class_and_off_the_boundaries():
    classes, instances = field()
    scribbles = simulate_scribbles(classes, budget=0.05, seed=1, instances=instances)
    painted = scribbles >= 0
    assert (scribbles[painted] == classes[painted]).all()
    assert {0, 1, 2} <= set(np.unique(scribbles).tolist())
    objects = instances + (classes == 2) * 10
    for label in np.unique(objects[objects > 0]):
        inner = ndimage.binary_erosion(objects == label)
        assert not ((scribbles > 0) & (objects == label) & ~inner).any(), label
    near_objects = ndimage.binary_dilation(classes > 0, iterations=3)
    assert not ((scribbles == 0) & near_objects).any()


def test_a_bar_is_scribbled_along_its_middle():
    bar = np.zeros((30, 70), np.int64)
    bar[10:17, 10:61] = 1  # rows 10..16; one pixel in: rows 11..15; skeleton on row 13
    scribbles = simulate_scribbles(bar, budget=0.5)
    rows = np.nonzero(scribbles == 1)[0]
    assert rows.min() >= 11 and rows.max() <= 15
    assert (scribbles[13, 20:50] == 1).all()


def test_the_budget_holds_and_every_object_gets_a_stroke_when_it_allows():
    classes, instances = field()
    scribbles = simulate_scribbles(classes, budget=0.05, seed=1, instances=instances)
    assert (scribbles >= 0).sum() <= int(0.05 * classes.size)
    for label in range(1, len(DISCS) + 1):
        assert (scribbles[instances == label] == 1).any(), label
    assert (scribbles[50:70, 50:75] == 2).any()


def test_a_tiny_budget_holds_and_still_labels_both_sides():
    classes, instances = field()
    for budget in (0.005, 0.001):
        tiny = simulate_scribbles(classes, budget=budget, seed=1, instances=instances)
        assert (tiny >= 0).sum() <= int(budget * classes.size)
        assert (tiny == 0).any() and (tiny > 0).any()
    assert (simulate_scribbles(classes, budget=0.0) == -1).all()


def test_a_tight_budget_scribbles_a_random_subset_and_balances_the_background():
    yy, xx = np.mgrid[:128, :128]
    classes = np.zeros((128, 128), np.int64)
    for cy in range(12, 128, 26):
        for cx in range(12, 128, 26):
            classes[(yy - cy) ** 2 + (xx - cx) ** 2 <= 64] = 1  # 25 discs of radius 8
    scribbles = simulate_scribbles(classes, budget=0.005, seed=2)
    limit = int(0.005 * classes.size)  # 81 pixels; objects get at most 41 of them
    foreground, background = int((scribbles == 1).sum()), int((scribbles == 0).sum())
    assert 0 < foreground <= limit - limit // 2
    assert 0 < background <= max(foreground, limit // 10)
    components, count = ndimage.label(classes)
    stroked = np.unique(components[scribbles == 1])
    assert 0 < len(stroked) < count


def test_without_instances_each_connected_component_is_an_object():
    classes, _ = field()
    scribbles = simulate_scribbles(classes, budget=0.05, seed=0)
    components, count = ndimage.label(classes > 0)
    assert count == len(DISCS) + 1
    assert set(np.unique(components[scribbles > 0]).tolist()) == set(range(1, count + 1))


def test_an_image_of_background_only_gets_background_strokes():
    scribbles = simulate_scribbles(np.zeros((64, 64), np.int64), budget=0.05)
    assert set(np.unique(scribbles).tolist()) == {-1, 0}
    assert (scribbles == 0).sum() <= int(0.05 * 64 * 64)


def test_scribbles_are_deterministic_per_seed():
    classes, instances = field()
    one = simulate_scribbles(classes, seed=5, instances=instances)
    assert one.dtype == np.int64
    assert np.array_equal(one, simulate_scribbles(classes, seed=5, instances=instances))
    assert not np.array_equal(one, simulate_scribbles(classes, seed=6, instances=instances))


def test_bad_inputs_say_what_to_fix():
    classes, _ = field()
    with pytest.raises(ValueError, match="fraction"):
        simulate_scribbles(classes, budget=5)
    with pytest.raises(ValueError, match="no -1"):
        simulate_scribbles(classes - 1)
    with pytest.raises(ValueError, match="shape"):
        simulate_scribbles(classes, instances=np.zeros((3, 3), np.int64))
