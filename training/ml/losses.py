"""Losses that learn only from labelled pixels.

Unknown pixels (target -1; -2 beyond an image's border; or weight 0) contribute nothing to the
label terms: with scribbles, unpainted pixels are not background. Pixel weights let derived
pseudo-masks count less than human labels. A pairwise term (a relaxed Potts / CRF loss, as in
Tang et al. 2018, "On Regularized Losses for Weakly-supervised CNN Segmentation") asks neighbouring
pixels of similar intensity to share a class, so the outlines that scribbles leave unlabelled
settle on the image's edges instead of anywhere in the unknown band around each object. It counts
only pairs that touch an unknown pixel inside the image: it settles what the labels leave open
and never argues with a label (in brightfield a labelled outline often crosses no edge at all).
Dense masks never get it, and a mask with a few unpainted holes gets it only around the holes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.ml.config import TrainConfig
from training.ml.data import OUTSIDE, UNKNOWN

EPS = 1e-6


def partial_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted mean cross-entropy over labelled pixels.

    Shape: logits (B, K, H, W); target (B, H, W) int64 with -1 unknown; weight (B, H, W) or None;
    class_weights (K,) or None. Returns a scalar; 0 when no pixel is labelled.
    """
    known = target >= 0
    pixel_weight = known.to(logits.dtype)
    if weight is not None:
        pixel_weight = pixel_weight * weight.to(logits.dtype)
    safe_target = target.clamp(min=0)
    if class_weights is not None:
        pixel_weight = pixel_weight * class_weights.to(logits.dtype)[safe_target]
    ce = F.cross_entropy(logits.float(), safe_target, reduction="none")
    total = pixel_weight.sum()
    return (ce * pixel_weight).sum() / total.clamp(min=EPS)


def partial_dice(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """1 - mean soft Dice over the classes present among the labelled pixels of the batch.

    Shape: logits (B, K, H, W); target (B, H, W) int64 with -1 unknown; weight (B, H, W) or None.
    """
    classes = logits.shape[1]
    known = (target >= 0).float()
    if weight is not None:
        known = known * weight.float()
    probs = logits.float().softmax(dim=1) * known[:, None]
    onehot = F.one_hot(target.clamp(min=0), classes).permute(0, 3, 1, 2).float() * known[:, None]
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = onehot.sum(dim=(0, 2, 3)) > 0
    if not bool(present.any()):
        return logits.sum() * 0.0
    dice = (2 * inter + EPS) / (denom + EPS)
    return 1.0 - dice[present].mean()


# Neighbour offsets (dy, dx) of the pairwise term: the 8-neighbourhood at distances 1 and 2, each
# pair counted once.
PAIRWISE_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1), (0, 2), (2, 0), (2, 2), (2, -2))


def _shifted_pairs(t: torch.Tensor, dy: int, dx: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The two views of t (..., H, W) whose pixels are (dy, dx) apart: t[y, x] and t[y+dy, x+dx]."""
    h, w = t.shape[-2:]
    x0, x1 = (0, w - dx) if dx >= 0 else (-dx, w)
    first = t[..., : h - dy, x0:x1]
    second = t[..., dy:, x0 + dx : x1 + dx]
    return first, second


def pairwise_smoothness(
    logits: torch.Tensor, image: torch.Tensor, *, sigma: float, target: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over neighbouring pixel pairs of affinity * P(the two pixels differ in class).

    affinity = exp(-|image_i - image_j|^2 / (2 sigma^2)) over the channels, so a class change
    costs almost nothing across an edge and fully inside a flat region; P(differ) = 1 - sum_k
    p_ik p_jk. Shape: logits (B, K, H, W); image (B, C, H, W) normalised; target (B, H, W) int64 or
    None. With a target, the mean is over the pairs of the patches that hold an unknown pixel
    (UNKNOWN), and a pair costs only if one of its pixels is unknown and none lies beyond the
    image's border (OUTSIDE): a patch with a small hole in a dense mask pays in proportion to
    the hole. Returns a scalar; 0 when no patch holds an unknown pixel.
    """
    if target is not None:
        sparse = (target == UNKNOWN).flatten(1).any(dim=1)
        if not bool(sparse.any()):  # a dense batch: skip the softmax on the training hot path
            return logits.sum() * 0.0
        logits, image, target = logits[sparse], image[sparse], target[sparse]
    probs = logits.float().softmax(dim=1)
    image = image.float()
    total, count = probs.new_zeros(()), 0
    for dy, dx in PAIRWISE_OFFSETS:
        p_i, p_j = _shifted_pairs(probs, dy, dx)
        x_i, x_j = _shifted_pairs(image, dy, dx)
        affinity = torch.exp(-((x_i - x_j) ** 2).sum(dim=1) / (2 * sigma**2))
        differ = 1.0 - (p_i * p_j).sum(dim=1)
        cost = affinity * differ
        if target is not None:
            t_i, t_j = _shifted_pairs(target, dy, dx)
            open_pair = ((t_i == UNKNOWN) | (t_j == UNKNOWN)) & (t_i != OUTSIDE) & (t_j != OUTSIDE)
            cost = cost * open_pair
        total = total + cost.sum()
        count += cost.numel()
    return total / max(count, 1)  # an empty batch pays nothing


class SegmentationLoss(nn.Module):
    """Partial cross-entropy, plus `dice_weight` times partial Dice, plus `pairwise_weight` times
    the pairwise term on the pairs that touch unknown pixels (given the input image)."""

    def __init__(
        self,
        *,
        dice_weight: float = 0.5,
        class_weights: torch.Tensor | None = None,
        pairwise_weight: float = 0.0,
        pairwise_sigma: float = TrainConfig.pairwise_sigma,
    ) -> None:
        super().__init__()
        self.dice_weight = dice_weight
        self.pairwise_weight = pairwise_weight
        self.pairwise_sigma = pairwise_sigma
        self.register_buffer("class_weights", class_weights)

    def forward(
        self,
        logits: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
    ) -> torch.Tensor:
        class_weights: torch.Tensor | None = self.class_weights  # type: ignore[assignment]
        loss = partial_cross_entropy(logits, target, weight, class_weights)
        if self.dice_weight:
            loss = loss + self.dice_weight * partial_dice(logits, target, weight)
        if self.pairwise_weight and image is not None:
            loss = loss + self.pairwise_weight * pairwise_smoothness(
                logits, image, sigma=self.pairwise_sigma, target=target
            )
        return loss
