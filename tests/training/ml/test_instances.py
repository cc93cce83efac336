"""Touching nuclei come apart; single ones stay whole."""

from __future__ import annotations

import numpy as np
import pytest

from training.ml.instances import separate_instances


def disc(shape: tuple[int, int], centre: tuple[int, int], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_two_touching_discs_become_two_objects():
    mask = disc((40, 60), (20, 20), 10) | disc((40, 60), (20, 38), 10)
    labels = separate_instances(mask)
    assert labels.max() == 2
    assert labels[20, 20] != labels[20, 38] and labels[20, 20] > 0 and labels[20, 38] > 0
    assert ((labels > 0) == mask).all()  # the split loses no pixel
    assert (labels[:, :27] != labels[20, 38]).all() and (labels[:, 32:] != labels[20, 20]).all()


def test_three_discs_in_a_row_become_three():
    mask = disc((40, 80), (20, 15), 9) | disc((40, 80), (20, 31), 9) | disc((40, 80), (20, 47), 9)
    assert separate_instances(mask).max() == 3


def test_a_single_disc_stays_one_and_specks_are_dropped():
    mask = disc((40, 40), (20, 20), 10)
    mask[2, 2] = True
    labels = separate_instances(mask, min_size=8)
    assert labels.max() == 1 and labels[2, 2] == 0 and labels[20, 20] == 1


def test_elongated_and_thin_objects_are_not_over_split():
    yy, xx = np.mgrid[:60, :100]
    ellipse = ((yy - 30) / 7.0) ** 2 + ((xx - 50) / 40.0) ** 2 <= 1
    assert separate_instances(ellipse).max() == 1
    line = np.zeros((20, 40), bool)
    line[10, 5:30] = True  # no h-maximum of its own: still one object
    assert separate_instances(line).max() == 1


def test_empty_and_full_masks():
    assert separate_instances(np.zeros((8, 8), bool)).max() == 0
    full = separate_instances(np.ones((8, 8), bool))
    assert full.min() >= 1 and full.dtype == np.int32


def test_it_wants_one_image_at_a_time():
    with pytest.raises(ValueError, match="loop over images"):
        separate_instances(np.zeros((2, 8, 8), bool))
