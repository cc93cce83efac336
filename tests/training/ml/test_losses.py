"""Losses on tiny tensors with expectations computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from training.ml.data import OUTSIDE, UNKNOWN
from training.ml.losses import SegmentationLoss, pairwise_smoothness, partial_cross_entropy, partial_dice


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


def test_pairwise_term_by_hand():
    # One row of three pixels, intensities 0, 0, 1, classes (almost surely) 0, 0, 1. Pairs along the
    # row: (0,1) at distance 1 (same class), (1,2) at distance 1 and (0,2) at distance 2 (different
    # class, intensity step 1). The other offsets leave the single row: no pairs.
    logits = logits_for([[1.0 - 1e-9, 1e-9], [1.0 - 1e-9, 1e-9], [1e-9, 1.0 - 1e-9]])
    image = torch.tensor([[[[0.0, 0.0, 1.0]]]])
    expected = 2 * math.exp(-1 / (2 * 0.5**2)) / 3
    assert pairwise_smoothness(logits, image, sigma=0.5).item() == pytest.approx(expected, rel=1e-4)


def _disc_scene(radius_of_prediction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A bright disc of radius 6 on a dark 32x32 image, and logits predicting a disc of the given radius."""
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    distance = ((yy - 16) ** 2 + (xx - 16) ** 2).sqrt()
    image = (distance <= 6).float()[None, None]
    inside = (distance <= radius_of_prediction).float()
    logits = torch.stack([1 - inside, inside])[None] * 20.0
    return logits, image


def test_pairwise_term_prefers_outlines_on_the_image_edges():
    on_edge = pairwise_smoothness(*_disc_scene(6), sigma=0.1)
    too_large = pairwise_smoothness(*_disc_scene(9), sigma=0.1)
    too_small = pairwise_smoothness(*_disc_scene(3), sigma=0.1)
    assert on_edge < too_large / 10 and on_edge < too_small / 10


def test_pairwise_term_counts_only_pairs_that_touch_unknown_pixels_by_hand():
    # The row of the test above, labelled 0, unknown, 1: pair (0,2) joins two labels and does not
    # count, (0,1) costs nothing (same class), (1,2) costs its affinity. Divided by all 3 pairs.
    logits = logits_for([[1.0 - 1e-9, 1e-9], [1.0 - 1e-9, 1e-9], [1e-9, 1.0 - 1e-9]])
    image = torch.tensor([[[[0.0, 0.0, 1.0]]]])
    target = torch.tensor([[[0, -1, 1]]])
    expected = math.exp(-1 / (2 * 0.5**2)) / 3
    term = pairwise_smoothness(logits, image, sigma=0.5, target=target)
    assert term.item() == pytest.approx(expected, rel=1e-4)
    # A flat row predicted 0, 1, 1: (0,1) and (0,2) differ. Pixel 2 lies beyond the image's border,
    # so only (0,1) counts.
    logits = logits_for([[1.0 - 1e-9, 1e-9], [1e-9, 1.0 - 1e-9], [1e-9, 1.0 - 1e-9]])
    flat = torch.zeros(1, 1, 1, 3)
    assert pairwise_smoothness(logits, flat, sigma=0.5).item() == pytest.approx(2 / 3, rel=1e-4)
    padded = torch.tensor([[[UNKNOWN, 0, OUTSIDE]]])
    term = pairwise_smoothness(logits, flat, sigma=0.5, target=padded)
    assert term.item() == pytest.approx(1 / 3, rel=1e-4)


def test_a_labelled_outline_off_the_image_edges_pays_no_pairwise_term():
    # A prediction (radius 9) past the bright disc (radius 6) pays the term along its outline,
    # which crosses flat background. Labelled there, the labels decide alone; a hole left
    # unpainted far from the outline adds nothing either, one across the outline adds its share.
    logits, image = _disc_scene(9)
    labels = (image[:, 0] > 0.5).long()
    plain = SegmentationLoss(dice_weight=0.0)
    with_pairwise = SegmentationLoss(dice_weight=0.0, pairwise_weight=1.0, pairwise_sigma=0.1)
    assert pairwise_smoothness(logits, image, sigma=0.1) > 0.01
    assert with_pairwise(logits, labels, image=image).item() == pytest.approx(plain(logits, labels).item())

    far_hole = labels.clone()
    far_hole[:, 0:4, 0:4] = UNKNOWN
    far = with_pairwise(logits, far_hole, image=image)
    assert far.item() == pytest.approx(plain(logits, far_hole).item())

    hole_on_outline = labels.clone()
    hole_on_outline[:, 14:19, 23:28] = UNKNOWN  # across the predicted outline at x = 25
    extra = with_pairwise(logits, hole_on_outline, image=image) - plain(logits, hole_on_outline)
    whole = pairwise_smoothness(logits, image, sigma=0.1)
    assert 0 < extra.item() < whole.item() / 5


def test_a_patch_pays_the_same_pairwise_term_whatever_else_is_in_its_batch():
    # The mean runs over the pairs of the patches holding unknown pixels: a densely labelled
    # patch beside a scribbled one neither dilutes nor adds to the scribbled patch's term.
    logits, image = _disc_scene(9)
    scribbled = torch.full((1, 32, 32), UNKNOWN)
    scribbled[:, 16, 14:19] = 1
    dense = (image[:, 0] > 0.5).long()
    alone = pairwise_smoothness(logits, image, sigma=0.1, target=scribbled)
    both = torch.cat([scribbled, dense])
    batch = pairwise_smoothness(torch.cat([logits] * 2), torch.cat([image] * 2), sigma=0.1, target=both)
    assert alone.item() > 0.01
    assert batch.item() == pytest.approx(alone.item(), rel=1e-5)
    assert pairwise_smoothness(logits, image, sigma=0.1, target=dense).item() == 0.0


def test_scribbles_pay_the_pairwise_term_on_almost_every_pair():
    logits, image = _disc_scene(9)
    scribbled = torch.full((1, 32, 32), UNKNOWN)
    scribbled[:, 16, 14:19] = 1  # a stroke through the disc
    scribbled[:, 1, :] = 0  # and one along the top
    plain = SegmentationLoss(dice_weight=0.0)
    with_pairwise = SegmentationLoss(dice_weight=0.0, pairwise_weight=1.0, pairwise_sigma=0.1)
    extra = with_pairwise(logits, scribbled, image=image) - plain(logits, scribbled)
    assert extra.item() == pytest.approx(pairwise_smoothness(logits, image, sigma=0.1).item(), rel=1e-5)


def test_padding_beyond_the_border_is_not_sparsity():
    # A dense patch that reaches past its image's border (OUTSIDE) gets no pairwise term.
    logits, image = _disc_scene(9)
    target = (image[:, 0] > 0.5).long()
    target[:, :, 24:] = OUTSIDE
    plain = SegmentationLoss(dice_weight=0.0)
    with_pairwise = SegmentationLoss(dice_weight=0.0, pairwise_weight=1.0, pairwise_sigma=0.1)
    assert with_pairwise(logits, target, image=image).item() == pytest.approx(plain(logits, target).item())
