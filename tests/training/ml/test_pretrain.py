"""Self-supervised pretraining: the pretext batches, the loss, and weights that segmentation takes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labeling.synthetic import synthetic_field
from training.ml.config import TrainConfig
from training.ml.data import normalize
from training.ml.loop import Callbacks, TrainingCancelled
from training.ml.models import create_model, load_weights
from training.ml.pretrain import (
    HEAD_PREFIX,
    PretrainConfig,
    PretrainSample,
    blanked_squares,
    masked_mse,
    pretext_batch,
    pretrain,
)

CPU = torch.device("cpu")
TINY = {"patch_size": 64, "batch_size": 4, "steps": 40, "warmup_steps": 4, "learning_rate": 3e-3}


def fields(count: int) -> list[PretrainSample]:
    samples = []
    for seed in range(count):
        field = synthetic_field(seed=seed, height=96, width=96, nuclei=5)
        samples.append(
            PretrainSample(normalize(field.brightfield[None]), normalize(field.fluorescence[None]))
        )
    return samples


def test_blanked_squares_hide_the_asked_fraction_in_whole_squares():
    hidden = blanked_squares(64, 16, 0.5, np.random.default_rng(0))
    assert hidden.shape == (64, 64) and hidden.mean() == 0.5
    cells = hidden.reshape(4, 16, 4, 16).transpose(0, 2, 1, 3).reshape(16, -1)
    assert all(cell.all() or not cell.any() for cell in cells)


def test_the_masked_task_blanks_its_input_and_scores_only_the_blanked_pixels():
    config = PretrainConfig(task="masked", **TINY)
    x, y, weight = pretext_batch(config, fields(1), np.random.default_rng(1))
    assert x.shape == y.shape == (4, 1, 64, 64) and weight.shape == (4, 1, 64, 64)
    hidden = weight > 0
    assert torch.all(x[hidden] == 0) and torch.equal(x[~hidden], y[~hidden])
    assert 0.4 < float(hidden.float().mean()) < 0.6
    # A perfect guess of the hidden pixels costs nothing, whatever it says elsewhere.
    guess = torch.where(hidden, y, torch.full_like(y, 9.0))
    assert float(masked_mse(guess, y, weight)) == 0.0


def test_the_fluorescence_task_targets_the_paired_channel_everywhere():
    config = PretrainConfig(task="fluorescence", **TINY)
    samples = fields(1)
    x, y, weight = pretext_batch(config, samples, np.random.default_rng(2))
    assert torch.all(weight == 1)
    # Inputs are brightfield windows (not blanked), targets the stain at the same place.
    assert not torch.equal(x, y) and float(x.std()) > 0


def test_fluorescence_patches_are_centred_on_the_stain_as_often_as_asked():
    """On a field where the stain is rare, stain-centred patches hold far more of it than uniform ones."""
    field = synthetic_field(seed=3, height=256, width=256, nuclei=3)
    sample = PretrainSample(normalize(field.brightfield[None]), field.mask[None].astype(np.float32))
    assert len(sample.bright) and field.mask.ravel()[sample.bright].all()
    flat = PretrainSample(sample.image, np.zeros_like(sample.target))
    assert len(flat.bright) == 0  # nothing stands out: every patch is drawn anywhere

    def stain_share(fraction: float) -> float:
        config = PretrainConfig(
            task="fluorescence", stain_patch_fraction=fraction, **{**TINY, "batch_size": 64}
        )
        _, y, weight = pretext_batch(config, [sample], np.random.default_rng(4))
        assert torch.all(weight == 1)  # patches stay inside the field
        return float(y.mean())

    assert stain_share(1.0) > 3 * stain_share(0.0)
    assert 0 < stain_share(0.5) < stain_share(1.0)


def test_pretraining_learns_and_gives_a_segmentation_network_all_but_its_head():
    config = PretrainConfig(task="fluorescence", **TINY)
    samples = fields(2)
    losses = []
    result = pretrain(
        config, samples, device=CPU, callbacks=Callbacks(on_step=lambda e: losses.append(e.loss))
    )
    assert len(losses) == 40 and np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    assert result.state and not any(name.startswith(HEAD_PREFIX) for name in result.state)
    segmentation = create_model(TrainConfig(in_channels=1, num_classes=3))
    load_weights(segmentation, result.state)
    own = segmentation.state_dict()
    assert all(torch.equal(own[name], tensor) for name, tensor in result.state.items())


def test_the_same_seed_pretrains_the_same_weights():
    config = PretrainConfig(task="masked", **{**TINY, "steps": 3})
    first = pretrain(config, fields(1), device=CPU)
    second = pretrain(config, fields(1), device=CPU)
    assert first.losses == second.losses
    name = next(iter(first.state))
    assert torch.equal(first.state[name], second.state[name])


def test_cancel_stops_pretraining_at_the_next_step():
    steps = []
    callbacks = Callbacks(on_step=lambda e: steps.append(e.step), should_cancel=lambda: len(steps) >= 2)
    with pytest.raises(TrainingCancelled, match="step 2"):
        pretrain(PretrainConfig(task="masked", **TINY), fields(1), device=CPU, callbacks=callbacks)
    assert steps == [1, 2]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"task": "colour"}, "not one of"),
        ({"task": "masked", "out_channels": 2}, "out_channels must equal"),
        ({"mask_square": 24}, "must divide"),
        ({"mask_ratio": 1.0}, "between 0 and 1"),
        ({"stain_patch_fraction": 1.5}, "stain_patch_fraction must be between"),
        ({"encoder": "vgg"}, "encoder"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        PretrainConfig(**{**TINY, **settings})


def test_the_fluorescence_task_needs_a_target_per_image():
    config = PretrainConfig(task="fluorescence", **TINY)
    with pytest.raises(ValueError, match="target"):
        pretrain(config, [PretrainSample(fields(1)[0].image)], device=CPU)
