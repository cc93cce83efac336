"""A factory over segmentation-models-pytorch. It never downloads anything.

ImageNet encoder weights are used only when a copy is on disk: a state dict of the encoder in
`<weights_dir>/<encoder>.pth` (for example saved once with torch.save(model.encoder.state_dict())
on a machine that has them). Without one, asking for them fails at once with a message instead
of hanging on a download.
"""

from __future__ import annotations

from pathlib import Path

import segmentation_models_pytorch as smp
import torch
from torch import nn

from training.ml.config import ARCHITECTURES, TrainConfig


class WeightsUnavailable(RuntimeError):
    pass


def create_model(config: TrainConfig, *, weights_dir: Path | None = None) -> nn.Module:
    """A fresh network for `config`: any input channel count, any number of classes."""
    model = create_network(config, outputs=config.num_classes)
    if config.encoder_weights == "imagenet":
        load_encoder_weights(model, imagenet_weights_file(config.encoder, weights_dir))
    elif config.encoder_weights is not None:
        raise ValueError(f"encoder_weights must be None or 'imagenet', not {config.encoder_weights!r}")
    return model


def create_network(config: TrainConfig, *, outputs: int) -> nn.Module:
    """The config's architecture and encoder with `outputs` output channels, randomly initialised."""
    return smp.create_model(
        ARCHITECTURES[config.architecture],
        encoder_name=config.encoder,
        encoder_weights=None,
        in_channels=config.in_channels,
        classes=outputs,
    )


def imagenet_weights_file(encoder: str, weights_dir: Path | None) -> Path:
    if weights_dir is None:
        raise WeightsUnavailable(
            "ImageNet weights were asked for but no weights folder is configured; set "
            "LESSLABEL_WEIGHTS_DIR to a folder holding <encoder>.pth, or train from scratch "
            "(encoder_weights=None)"
        )
    path = Path(weights_dir) / f"{encoder}.pth"
    if not path.is_file():
        raise WeightsUnavailable(
            f"no ImageNet weights for {encoder} at {path}; put the encoder's state dict there, "
            "or train from scratch (encoder_weights=None)"
        )
    return path


def load_encoder_weights(model: nn.Module, path: Path) -> None:
    """Load an encoder state dict, adapting the first convolution to the model's channel count."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    encoder = encoder_of(model)
    own = encoder.state_dict()
    for name, tensor in state.items():
        if name in own and own[name].shape != tensor.shape and tensor.ndim == 4:
            # Same trick as smp's patch_first_conv: average RGB filters over the new channels.
            channels = own[name].shape[1]
            state[name] = tensor.mean(dim=1, keepdim=True).repeat(1, channels, 1, 1) * (3 / channels)
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < len(own):
        raise WeightsUnavailable(
            f"{path} does not hold all weights of this encoder ({len(usable)} of {len(own)} tensors fit)"
        )
    encoder.load_state_dict(usable)


def encoder_of(model: nn.Module) -> nn.Module:
    """The network's encoder (every segmentation-models-pytorch model has one)."""
    encoder = model.encoder
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"{type(model).__name__} has no encoder module")
    return encoder


def load_weights(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Warm start / transfer: take every tensor whose name and shape match, report the rest.

    The segmentation head is skipped when the class count differs, so a model trained on other
    classes still gives its encoder and decoder.
    """
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise ValueError("none of the given weights fit this model: different architecture or encoder?")
    model.load_state_dict(usable, strict=False)
