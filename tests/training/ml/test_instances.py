"""Touching nuclei come apart; single ones stay whole."""

from __future__ import annotations

import numpy as np

from training.ml.instances import separate_instances


def disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_two_touching_discs_become_two_objects():
    mask = disc((40, 60), (20, 20), 10) | disc((40, 60), (20, 38), 10)
    labels = separate_instances(mask)
    assert labels.max() == 2
    assert labels[20, 20] != labels[20, 38] and labels[20, 20] > 0 and labels[20, 38] > 0
    assert ((labels > 0) == mask).all()


def test_a_single_disc_stays_one_and_specks_are_dropped():
    mask = disc((40, 40), (20, 20), 10)
    mask[2, 2] = True
    labels = separate_instances(mask, min_size=8)
    assert labels.max() == 1 and labels[2, 2] == 0


def test_empty_and_full_masks():
    assert separate_instances(np.zeros((8, 8), bool)).max() == 0
    full = separate_instances(np.ones((8, 8), bool))
    assert full.min() >= 1
