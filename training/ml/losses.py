"""Losses that learn only from labelled pixels.

Unknown pixels (target -1, or weight 0) contribute nothing: with scribbles, unpainted pixels
are not background. Pixel weights let derived pseudo-masks count less than human labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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


class SegmentationLoss(nn.Module):
    """Partial cross-entropy plus `dice_weight` times partial Dice."""

    def __init__(self, *, dice_weight: float = 0.5, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.dice_weight = dice_weight
        self.register_buffer("class_weights", class_weights)

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        class_weights: torch.Tensor | None = self.class_weights  # type: ignore[assignment]
        loss = partial_cross_entropy(logits, target, weight, class_weights)
        if self.dice_weight:
            loss = loss + self.dice_weight * partial_dice(logits, target, weight)
        return loss
