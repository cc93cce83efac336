"""The loop end to end on tiny generated fields: it learns, reports, cancels and resumes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labeling.synthetic import synthetic_field
from training.ml.config import TrainConfig
from training.ml.data import Sample, normalize
from training.ml.inference import predict
from training.ml.loop import Callbacks, Trainer, TrainingCancelled
from training.ml.metrics import pixel_scores
from training.ml.models import create_model
from training.ml.scribbles import simulate_scribbles

CPU = torch.device("cpu")
FAST = TrainConfig(
    architecture="unet",
    encoder="resnet18",
    patch_size=64,
    batch_size=8,
    steps=120,
    steps_per_epoch=40,
    learning_rate=3e-3,
    warmup_steps=10,
    seed=0,
)


def field_sample(seed: int, *, scribbles: bool = False) -> Sample:
    field = synthetic_field(seed=seed, height=96, width=96, nuclei=6, radius=(5, 10))
    image = normalize(field.brightfield[None])
    target = field.mask.astype(np.int64)
    if scribbles:
        target = simulate_scribbles(target, budget=0.05, seed=seed, instances=field.instances)
    return Sample(image, target)


@pytest.fixture(scope="module")
def validation() -> list[Sample]:
    return [field_sample(100), field_sample(101)]


def test_it_learns_brightfield_nuclei_from_dense_masks(validation):
    events = []
    trainer = Trainer(
        FAST,
        train=[field_sample(s) for s in range(4)],
        validation=validation,
        device=CPU,
        callbacks=Callbacks(on_epoch=events.append),
    )
    result = trainer.fit()
    assert result.metrics["pixel_f1"] > 0.85, result.history
    assert [e.epoch for e in events] == [1, 2, 3]
    assert events[-1].preview is not None and events[-1].preview.shape == (96, 96)
    assert result.steps == 120


def test_it_learns_from_scribbles_alone_and_the_pairwise_term_tightens_the_outlines(validation):
    """Scribbles leave each nucleus's outline unlabelled; without the pairwise term the model's
    nuclei spread into that band (low precision), with it they stop at the image's edges."""
    train = [field_sample(s, scribbles=True) for s in range(4)]
    config = FAST.replace(steps=160, pairwise_weight=4.0, pairwise_sigma=0.05)
    truth = np.concatenate([s.target.ravel() for s in validation])
    precision = {}
    for weight in (0.0, config.pairwise_weight):
        result = Trainer(config.replace(pairwise_weight=weight), train=train, validation=[], device=CPU).fit()
        predicted = [predict(result.model, s.image, device=CPU).classes.ravel() for s in validation]
        scores = pixel_scores(np.concatenate(predicted), truth, num_classes=2)
        precision[weight] = scores[1]["precision"]
        assert scores[1]["f1"] > 0.85, (weight, scores[1])
    assert precision[config.pairwise_weight] > precision[0.0] + 0.05, precision


def test_step_events_carry_progress(validation):
    steps = []
    config = FAST.replace(steps=5, steps_per_epoch=5)
    Trainer(
        config, train=[field_sample(0)], validation=[], device=CPU, callbacks=Callbacks(on_step=steps.append)
    ).fit()
    assert [s.step for s in steps] == [1, 2, 3, 4, 5]
    assert all(s.loss > 0 and s.learning_rate > 0 and s.samples_per_second > 0 for s in steps)
    assert steps[-1].eta_seconds == 0 and steps[0].eta_seconds > 0


def test_the_loss_is_class_weighted_only_when_asked():
    train = [field_sample(0)]  # nuclei are the rarer class
    assert Trainer(FAST, train=train, validation=[], device=CPU).loss.class_weights is None
    weighted = Trainer(FAST.replace(weight_classes=True), train=train, validation=[], device=CPU)
    weights = weighted.loss.class_weights
    assert weights is not None and float(weights[1]) > float(weights[0])


def test_a_frozen_encoder_keeps_its_starting_weights_and_statistics_while_the_decoder_learns():
    before = {name: tensor.clone() for name, tensor in create_model(FAST).state_dict().items()}
    frozen = FAST.replace(freeze_encoder=True, steps=5, warmup_steps=1)
    trainer = Trainer(frozen, train=[field_sample(1)], validation=[], device=CPU, initial_weights=before)
    trainer.fit()
    after = trainer.model.state_dict()
    encoder = [name for name in before if name.startswith("encoder.")]
    assert any("running_mean" in name for name in encoder)  # batch-norm statistics are checked too
    assert all(torch.equal(after[name], before[name]) for name in encoder)
    decoder = [name for name in before if name.startswith("decoder.") and name.endswith("weight")]
    assert any(not torch.equal(after[name], before[name]) for name in decoder)


def test_batch_norm_statistics_are_measured_afresh_on_whole_images_when_training_ends():
    config = FAST.replace(steps=6, steps_per_epoch=3, warmup_steps=1, batch_size=3)
    train = [field_sample(s) for s in range(4)]  # one 96-px tile each: batches of 3 and 1

    def stem(recompute: bool) -> tuple[torch.nn.Module, torch.Tensor]:
        """The first batch-norm layer after training, and its input's per-channel mean over the
        four whole images."""
        chosen = config.replace(recompute_batch_norm=recompute)
        model = Trainer(chosen, train=train, validation=[], device=CPU).fit().model
        with torch.no_grad():
            features = model.encoder.conv1(torch.from_numpy(np.stack([s.image for s in train])))
        return model.encoder.bn1, features.mean(dim=(0, 2, 3))

    measured, image_mean = stem(recompute=True)
    assert torch.allclose(measured.running_mean, image_mean, atol=1e-4)
    assert measured.momentum == 0.1 and not measured.training  # back to a plain eval-mode layer
    running, image_mean = stem(recompute=False)  # a running average over label-centred patches
    assert not torch.allclose(running.running_mean, image_mean, atol=1e-2)


def test_a_frozen_encoder_needs_starting_weights():
    with pytest.raises(ValueError, match="a random encoder would stay random"):
        Trainer(FAST.replace(freeze_encoder=True), train=[field_sample(0)], validation=[], device=CPU)


def test_cancel_is_checked_every_step():
    seen = []
    trainer = Trainer(
        FAST,
        train=[field_sample(0)],
        validation=[],
        device=CPU,
        callbacks=Callbacks(on_step=seen.append, should_cancel=lambda: len(seen) >= 3),
    )
    with pytest.raises(TrainingCancelled):
        trainer.fit()
    assert trainer.step == 3


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    config = FAST.replace(steps=12, steps_per_epoch=4, batch_size=2)
    train = [field_sample(0), field_sample(1)]
    straight = Trainer(config, train=train, validation=[], device=CPU).fit()

    interrupted = Trainer(
        config,
        train=train,
        validation=[],
        device=CPU,
        checkpoint_dir=tmp_path,
        callbacks=Callbacks(should_cancel=lambda: interrupted.step >= 8),
    )
    with pytest.raises(TrainingCancelled):
        interrupted.fit()
    resumed = Trainer(config, train=train, validation=[], device=CPU, checkpoint_dir=tmp_path)
    result = resumed.fit(resume=True)
    assert resumed.step == 12
    for name, tensor in straight.model.state_dict().items():
        assert torch.allclose(tensor.float(), result.model.state_dict()[name].float(), atol=1e-5), name
