"""The exported network: a Lesslabel segmentation model that takes the normalised image and gives
class probabilities.

This file is shipped as it is inside every BioImage.IO package Lesslabel writes (the
`pytorch_state_dict` weights' architecture), so it imports nothing of Lesslabel: only torch and
segmentation-models-pytorch. The TorchScript and ONNX files are traced from the same module, so
all three weight formats compute the same thing.
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch import nn


class LesslabelProbabilities(nn.Module):
    """Softmax over the classes of a segmentation network's outputs; with `augment`, the mean over
    the image's 8 rotations and mirror images (the version's test-time augmentation).

    Shape: (B, C, H, W) float32 normalised input, H and W multiples of 32 -> (B, K, H, W) float32
    probabilities that sum to 1 over K.
    """

    def __init__(self, network: nn.Module, *, augment: bool = False) -> None:
        super().__init__()
        self.network = network
        self.augment = augment

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.augment:
            return self.network(x).softmax(dim=1)
        # As training/ml/inference.py does it: turn, mirror, predict, mirror back, turn back.
        views = []
        for turns in range(4):
            for mirror in (False, True):
                view = turned(x, turns)
                view = torch.flip(view, dims=(3,)) if mirror else view
                probabilities = self.network(view).softmax(dim=1)
                probabilities = torch.flip(probabilities, dims=(3,)) if mirror else probabilities
                views.append(turned(probabilities, -turns))
        return torch.stack(views).mean(dim=0)


def turned(x: torch.Tensor, turns: int) -> torch.Tensor:
    """`torch.rot90(x, turns, dims=(2, 3))` made of flips and a transpose, which ONNX has (it has
    no rot90). Shape: (B, C, H, W) -> (B, C, W, H) for odd turns, else the same."""
    turns %= 4
    if turns == 1:
        return x.flip(3).transpose(2, 3)
    if turns == 2:
        return x.flip(2).flip(3)
    if turns == 3:
        return x.transpose(2, 3).flip(3)
    return x


def lesslabel_network(
    architecture: str, encoder: str, in_channels: int, classes: int, augment: bool = False
) -> LesslabelProbabilities:
    """A randomly initialised network of this shape, ready for the package's state dict.
    `architecture` is segmentation-models-pytorch's name ("Unet", "FPN", ...)."""
    network = smp.create_model(
        architecture,
        encoder_name=encoder,
        encoder_weights=None,
        in_channels=in_channels,
        classes=classes,
    )
    return LesslabelProbabilities(network, augment=augment)
