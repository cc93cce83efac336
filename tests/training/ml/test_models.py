"""The model factory: every architecture and encoder, any channels and classes, no downloads."""

from __future__ import annotations

import pytest
import torch

from training.ml.config import ARCHITECTURES, ENCODERS, TrainConfig
from training.ml.models import WeightsUnavailable, create_model, load_weights


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
@pytest.mark.parametrize("encoder", ENCODERS)
def test_every_architecture_and_encoder_builds_for_any_channels_and_classes(architecture, encoder):
    model = create_model(
        TrainConfig(architecture=architecture, encoder=encoder, in_channels=3, num_classes=4)
    )
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 4, 64, 64)


def test_imagenet_weights_without_a_copy_on_disk_fail_at_once(tmp_path):
    config = TrainConfig(encoder_weights="imagenet")
    with pytest.raises(WeightsUnavailable, match="LESSLABEL_WEIGHTS_DIR"):
        create_model(config)
    with pytest.raises(WeightsUnavailable, match=r"resnet18\.pth"):
        create_model(config, weights_dir=tmp_path)


def test_imagenet_weights_load_from_disk_and_adapt_the_first_convolution(tmp_path):
    rgb = create_model(TrainConfig(in_channels=3))
    torch.save(rgb.encoder.state_dict(), tmp_path / "resnet18.pth")
    model = create_model(TrainConfig(in_channels=1, encoder_weights="imagenet"), weights_dir=tmp_path)
    conv = model.encoder.state_dict()["conv1.weight"]
    expected = rgb.encoder.state_dict()["conv1.weight"].mean(dim=1, keepdim=True) * 3
    assert torch.allclose(conv, expected)
    assert torch.equal(
        model.encoder.state_dict()["layer4.1.bn2.weight"], rgb.encoder.state_dict()["layer4.1.bn2.weight"]
    )


def test_warm_start_takes_matching_weights_and_skips_a_different_head():
    source = create_model(TrainConfig(num_classes=3))
    target = create_model(TrainConfig(num_classes=2, seed=1))
    load_weights(target, source.state_dict())
    assert torch.equal(
        target.encoder.state_dict()["conv1.weight"], source.encoder.state_dict()["conv1.weight"]
    )
    assert target.segmentation_head[0].weight.shape[0] == 2


def test_weights_of_another_architecture_are_refused():
    with pytest.raises(ValueError, match="none of the given weights fit"):
        load_weights(create_model(TrainConfig()), {"foo.weight": torch.zeros(2)})


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"architecture": "segformer"}, "architecture"),
        ({"encoder": "vgg11"}, "encoder"),
        ({"patch_size": 100}, "multiple of 32"),
        ({"num_classes": 1}, "2 classes"),
        ({"pairwise_weight": -1.0}, "pairwise_weight must be >= 0"),
        ({"pairwise_sigma": 0.0}, "pairwise_sigma must be > 0"),
        ({"scale_range": (0.0, 1.0)}, "0 < low <= high"),
        ({"scale_range": (2.0, 0.5)}, "0 < low <= high"),
        ({"scale_range": (1.0,)}, "two factors"),
    ],
)
def test_bad_configs_say_what_is_wrong(changes, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**changes)


def test_config_round_trips_through_a_dict():
    config = TrainConfig(architecture="fpn", scale_range=(0.5, 2.0), extra={"note": "x"})
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({**config.to_dict(), "colour": "red"})
