"""Tiled prediction for images of any size in bounded memory.

Tiles overlap; each tile's outermost `overlap // 4` pixels on inner sides are discarded (they
saw zero padding) and the rest is blended with linear ramps that sum to one, so wherever the
network's receptive field fits in that margin the result equals predicting the whole image at
once. Memory: the input, the (K, H, W) float32 probabilities and one batch of tiles (with
test-time augmentation, one more copy of each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray  # (K, H, W) float32
    classes: np.ndarray  # (H, W) int64
    entropy: np.ndarray  # (H, W) float32, 0..1 (normalised by log K)

    @property
    def uncertainty(self) -> float:
        """Mean normalised entropy: 0 = sure everywhere, 1 = no idea anywhere."""
        return float(self.entropy.mean())


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def ramp(tile: int, overlap: int, *, first: bool, last: bool) -> np.ndarray:
    """Blending weights along one axis of a tile; inner sides fade out, image borders do not.

    Shape: (tile,) float32.
    """
    weights = np.ones(tile, dtype=np.float32)
    if overlap <= 0:
        return weights
    margin = overlap // 4
    width = max(overlap - 2 * margin, 1)
    position = np.arange(tile, dtype=np.float32)
    if not first:
        weights = np.minimum(weights, np.clip((position - margin) / width, 0, 1))
    if not last:
        weights = np.minimum(weights, np.clip((tile - position - margin) / width, 0, 1))
    return weights


def predict_probabilities(
    model: nn.Module,
    image: np.ndarray,
    *,
    device: torch.device,
    tile: int = 512,
    overlap: int = 64,
    batch_size: int = 4,
    augment: bool = False,
) -> np.ndarray:
    """Softmax probabilities of a normalised image, tile by tile.

    With `augment`, the mean over the image's 8 rotations and mirror images, each mapped back
    (test-time augmentation: 8 times the work; microscopy has no up or down, so every view is
    as valid as the original and their errors partly cancel).

    Shape: image (C, H, W) float32 -> (K, H, W) float32. `tile` must be a multiple of 32.
    """
    if not augment:
        return _tiled_probabilities(
            model, image, device=device, tile=tile, overlap=overlap, batch_size=batch_size
        )
    total: np.ndarray | None = None
    for turns in range(4):
        for mirror in (False, True):
            view = np.rot90(image, turns, axes=(1, 2))
            view = np.ascontiguousarray(view[:, :, ::-1] if mirror else view)
            probabilities = _tiled_probabilities(
                model, view, device=device, tile=tile, overlap=overlap, batch_size=batch_size
            )
            back = np.rot90(probabilities[:, :, ::-1] if mirror else probabilities, -turns, axes=(1, 2))
            if total is None:
                total = np.ascontiguousarray(back)
            else:
                total += back
    assert total is not None
    total /= 8
    return total


@torch.no_grad()
def _tiled_probabilities(
    model: nn.Module,
    image: np.ndarray,
    *,
    device: torch.device,
    tile: int,
    overlap: int,
    batch_size: int,
) -> np.ndarray:
    if tile % 32 or overlap >= tile:
        raise ValueError(f"tile {tile} must be a multiple of 32 and larger than overlap {overlap}")
    height, width = image.shape[1:]
    padded = _pad_to(image, max(height, tile), max(width, tile))
    full_h, full_w = padded.shape[1:]
    ys, xs = tile_starts(full_h, tile, tile - overlap), tile_starts(full_w, tile, tile - overlap)
    boxes = [(y, x) for y in ys for x in xs]
    total: np.ndarray | None = None
    norm = np.zeros((full_h, full_w), dtype=np.float32)
    model.eval()
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start : start + batch_size]
        batch = np.stack([padded[:, y : y + tile, x : x + tile] for y, x in chunk])
        with _autocast(device):
            logits = model(torch.from_numpy(batch).to(device))
        probs = logits.float().softmax(dim=1).cpu().numpy()
        if total is None:
            total = np.zeros((probs.shape[1], full_h, full_w), dtype=np.float32)
        for (y, x), tile_probs in zip(chunk, probs, strict=True):
            wy = ramp(tile, overlap, first=y == 0, last=y == ys[-1])
            wx = ramp(tile, overlap, first=x == 0, last=x == xs[-1])
            weight = np.outer(wy, wx)
            total[:, y : y + tile, x : x + tile] += tile_probs * weight
            norm[y : y + tile, x : x + tile] += weight
    assert total is not None
    total /= norm
    return np.ascontiguousarray(total[:, :height, :width])


def predict(
    model: nn.Module,
    image: np.ndarray,
    *,
    device: torch.device,
    tile: int = 512,
    overlap: int = 64,
    batch_size: int = 4,
    augment: bool = False,
) -> Prediction:
    """Class map, probabilities and entropy of one normalised (C, H, W) image."""
    probabilities = predict_probabilities(
        model, image, device=device, tile=tile, overlap=overlap, batch_size=batch_size, augment=augment
    )
    return Prediction(probabilities, probabilities.argmax(axis=0), entropy(probabilities))


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Per-pixel entropy normalised to 0..1. Shape: (K, H, W) -> (H, W) float32."""
    classes = probabilities.shape[0]
    total = np.zeros(probabilities.shape[1:], dtype=np.float32)
    # Class by class, so a large image needs a few planes of scratch memory, not K of them.
    for plane in probabilities:
        p = np.clip(plane, 1e-7, 1.0)
        total -= p * np.log(p)
    total /= np.float32(np.log(classes))
    return total


def _pad_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    pad_h, pad_w = height - image.shape[1], width - image.shape[2]
    if pad_h == 0 and pad_w == 0:
        return image
    return np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect")


def _autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
