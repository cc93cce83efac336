"""Losses on tiny tensors with expectations computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from training.ml.losses import SegmentationLoss, partial_cross_entropy, partial_dice


def logits_for(probabilities: list[list[float]]) -> torch.Tensor:
    """(B=1, K, H=1, W=n) logits whose softmax is the given per-pixel class probabilities."""
    p = torch.tensor(probabilities, dtype=torch.float32).T  # (K, n)
    return p.log()[None, :, None, :]


def test_unknown_pixels_do_not_count():
    logits = logits_for([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])
    target = torch.tensor([[[0, 1, -1]]])
    # -(log 0.8 + log 0.7) / 2: the third pixel is unknown.
    expected = -(math.log(0.8) + math.log(0.7)) / 2
    assert partial_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-5)


def test_pixel_weights_make_derived_labels_count_less():
    logits = logits_for([[0.8, 0.2], [0.3, 0.7]])
    target = torch.tensor([[[0, 1]]])
    weight = torch.tensor([[[1.0, 0.5]]])
    expected = -(1.0 * math.log(0.8) + 0.5 * math.log(0.7)) / 1.5
    assert partial_cross_entropy(logits, target, weight).item() == pytest.approx(expected, rel=1e-5)


def test_class_weights_rebalance():
    logits = logits_for([[0.8, 0.2], [0.3, 0.7]])
    target = torch.tensor([[[0, 1]]])
    expected = -(1.0 * math.log(0.8) + 3.0 * math.log(0.7)) / 4.0
    got = partial_cross_entropy(logits, target, class_weights=torch.tensor([1.0, 3.0]))
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_no_labelled_pixel_gives_zero_loss_and_finite_gradients():
    logits = torch.zeros(1, 2, 2, 2, requires_grad=True)
    loss = SegmentationLoss(dice_weight=0.5)(logits, torch.full((1, 2, 2), -1))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(logits.grad).all()


def test_dice_only_on_labelled_pixels():
    # Two labelled pixels, both class 1, predicted p(class 1) = 0.5 and 1.0; one unknown pixel.
    logits = logits_for([[0.5, 0.5], [1e-9, 1.0], [1.0, 1e-9]])
    target = torch.tensor([[[1, 1, -1]]])
    # class 1: inter = 1.5, sum p = 1.5, sum onehot = 2 -> dice 3/3.5; class 0 absent from labels.
    assert partial_dice(logits, target).item() == pytest.approx(1 - 3 / 3.5, abs=1e-4)


def test_perfect_prediction_has_near_zero_loss():
    logits = logits_for([[1.0 - 1e-6, 1e-6], [1e-6, 1.0 - 1e-6]])
    target = torch.tensor([[[0, 1]]])
    assert SegmentationLoss(dice_weight=1.0)(logits, target).item() < 1e-3
