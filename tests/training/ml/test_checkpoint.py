"""Checkpoints round-trip and are never left half-written."""

from __future__ import annotations

from unittest import mock

import pytest
import torch

from training.ml.checkpoint import Checkpoint, cpu_state, load_checkpoint, save_checkpoint
from training.ml.config import TrainConfig
from training.ml.models import create_model


def test_round_trip_keeps_weights_config_and_progress(tmp_path):
    config = TrainConfig(architecture="fpn", encoder="mobilenet_v2", num_classes=3)
    model = create_model(config)
    saved = Checkpoint(
        config=config,
        model_state=cpu_state(model),
        step=42,
        epoch=3,
        metrics={"pixel_f1": 0.8},
        history=[{"epoch": 1}],
    )
    save_checkpoint(tmp_path / "run" / "last.pt", saved)
    loaded = load_checkpoint(tmp_path / "run" / "last.pt")
    assert loaded.config == config and (loaded.step, loaded.epoch) == (42, 3)
    assert loaded.metrics == {"pixel_f1": 0.8} and loaded.history == [{"epoch": 1}]
    assert all(torch.equal(loaded.model_state[k], v) for k, v in saved.model_state.items())


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path):
    config = TrainConfig()
    path = tmp_path / "last.pt"
    save_checkpoint(path, Checkpoint(config=config, model_state={"w": torch.ones(2)}, step=1))
    with mock.patch("torch.save", side_effect=OSError("disk full")), pytest.raises(OSError):
        save_checkpoint(path, Checkpoint(config=config, model_state={"w": torch.zeros(2)}, step=2))
    assert load_checkpoint(path).step == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_foreign_file_is_refused(tmp_path):
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a Lesslabel checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
