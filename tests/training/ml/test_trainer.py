"""The one training loop (BaseTrainer) on a tiny linear model: hook order, cancel, step events,
epoch boundaries, the schedules, and the trainings that go through it."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from training.ml.loop import Trainer
from training.ml.pretrain import PretextTrainer, PretrainConfig, PretrainSample, pretrain
from training.ml.scorecam import ClassifierConfig, ClassifierTrainer, TaggedTile, train_classifier
from training.ml.trainer import (
    BaseTrainer,
    Callbacks,
    LoopConfig,
    LoopResult,
    StepEvent,
    TrainingCancelled,
    choose_device,
    cosine_factor,
    cpu_threads,
    lr_factor,
)

CPU = torch.device("cpu")


class Recording(BaseTrainer[torch.Tensor]):
    """Loss k at the k-th step (1-based), so epoch means can be worked out by hand; every hook
    call is written to `calls`."""

    def __init__(
        self,
        loop: LoopConfig,
        calls: list[str],
        *,
        callbacks: Callbacks | None = None,
        stop_after_epoch: int = 0,
    ) -> None:
        self.calls = calls
        self.stop_after_epoch = stop_after_epoch
        self.epoch_losses: list[float] = []
        super().__init__(nn.Linear(2, 1), loop, device=CPU, callbacks=callbacks)

    def next_batch(self) -> torch.Tensor:
        self.calls.append("next_batch")
        return torch.ones(4, 2)

    def train_mode(self) -> None:
        self.calls.append("train_mode")
        super().train_mode()

    def compute_loss(self, batch: torch.Tensor) -> torch.Tensor:
        self.calls.append("compute_loss")
        return self.model(batch).sum() * 0 + float(self.step + 1)

    def on_epoch_end(self, train_loss: float) -> bool:
        self.calls.append(f"on_epoch_end {self.epoch}")
        self.epoch_losses.append(train_loss)
        return self.epoch == self.stop_after_epoch


def recording(loop: LoopConfig, *, stop_after_epoch: int = 0) -> tuple[Recording, list[str], list[StepEvent]]:
    calls: list[str] = []
    events: list[StepEvent] = []

    def on_step(event: StepEvent) -> None:
        calls.append(f"on_step {event.step}")
        events.append(event)

    def should_cancel() -> bool:
        calls.append("should_cancel")
        return False

    callbacks = Callbacks(on_step=on_step, should_cancel=should_cancel)
    trainer = Recording(loop, calls, callbacks=callbacks, stop_after_epoch=stop_after_epoch)
    return trainer, calls, events


LOOP = LoopConfig(
    steps=4, batch_size=4, learning_rate=0.1, weight_decay=0.0, warmup_steps=2, steps_per_epoch=2
)


def test_the_hooks_are_called_in_order_every_step() -> None:
    trainer, calls, _ = recording(LOOP)
    trainer.run()
    step = ["should_cancel", "next_batch", "train_mode", "compute_loss"]
    assert calls == [
        *step,
        "on_step 1",
        *step,
        "on_step 2",
        "on_epoch_end 1",
        *step,
        "on_step 3",
        *step,
        "on_step 4",
        "on_epoch_end 2",
    ]


def test_a_cancel_stops_before_the_next_step() -> None:
    batches: list[int] = []

    class Counting(Recording):
        def next_batch(self) -> torch.Tensor:
            batches.append(self.step)
            return super().next_batch()

    trainer = Counting(LOOP, [], callbacks=Callbacks(should_cancel=lambda: len(batches) >= 3))
    with pytest.raises(TrainingCancelled, match="cancelled at step 3"):
        trainer.run()
    assert batches == [0, 1, 2] and trainer.step == 3


def test_a_subclass_names_what_was_cancelled() -> None:
    class Named(Recording):
        cancelled_message = "the recording cancelled at step {step}"

    with pytest.raises(TrainingCancelled, match="the recording cancelled at step 0"):
        Named(LOOP, [], callbacks=Callbacks(should_cancel=lambda: True)).run()


def test_step_events_carry_the_step_the_epoch_the_learning_rate_and_an_eta() -> None:
    trainer, _, events = recording(LOOP)
    trainer.run()
    assert [e.step for e in events] == [1, 2, 3, 4]
    assert [e.epoch for e in events] == [0, 0, 1, 1]  # the epoch a step ends is counted after it
    assert [e.loss for e in events] == [1.0, 2.0, 3.0, 4.0]
    # After k steps the rate is 0.1 * lr_factor(k): warm-up to step 2, then a cosine over 2 steps.
    assert [e.learning_rate for e in events] == pytest.approx([0.1, 0.1, 0.0525, 0.005])
    assert all(e.samples_per_second > 0 for e in events)
    assert all(e.eta_seconds > 0 for e in events[:-1]) and events[-1].eta_seconds == 0


def test_the_epoch_boundary_fires_every_steps_per_epoch_steps_and_at_the_end() -> None:
    loop = LoopConfig(steps=5, batch_size=4, learning_rate=0.1, weight_decay=0.0, steps_per_epoch=2)
    trainer, calls, _ = recording(loop)
    result = trainer.run()
    assert [c for c in calls if c.startswith("on_epoch_end")] == [
        "on_epoch_end 1",
        "on_epoch_end 2",
        "on_epoch_end 3",
    ]
    assert trainer.epoch_losses == [1.5, 3.5, 5.0]  # each epoch's mean: steps 1-2, 3-4, 5
    assert result == LoopResult(
        losses=[1.0, 2.0, 3.0, 4.0, 5.0], steps=5, epochs=3, seconds=result.seconds, stopped_early=False
    )


def test_without_steps_per_epoch_the_one_epoch_ends_at_the_last_step() -> None:
    loop = LoopConfig(steps=3, batch_size=4, learning_rate=0.1, weight_decay=0.0)
    trainer, calls, events = recording(loop)
    trainer.run()
    assert calls[-2:] == ["on_step 3", "on_epoch_end 1"] and calls.count("on_epoch_end 1") == 1
    assert trainer.epoch_losses == [2.0] and {e.epoch for e in events} == {0}


def test_on_epoch_end_saying_stop_ends_training_early() -> None:
    trainer, _, events = recording(LOOP, stop_after_epoch=1)
    result = trainer.run()
    assert result.stopped_early and result.steps == 2 and result.epochs == 1
    assert len(events) == 2


def test_a_run_continues_from_the_step_it_is_given() -> None:
    """What Trainer.resume relies on: run() goes on from self.step, not from 0."""
    trainer, calls, events = recording(LOOP)
    trainer.step, trainer.epoch = 2, 1
    trainer.run()
    assert [e.step for e in events] == [3, 4] and calls[-1] == "on_epoch_end 2"


def test_only_trainable_parameters_are_optimised() -> None:
    assert len(Recording(LOOP, []).optimizer.param_groups[0]["params"]) == 2
    frozen_model = nn.Linear(2, 1)
    frozen_model.bias.requires_grad_(False)
    frozen = BaseTrainer[torch.Tensor](frozen_model, LOOP, device=CPU)
    assert frozen.optimizer.param_groups[0]["params"] == [frozen_model.weight]


def test_a_trainer_without_a_batch_hook_says_what_is_missing() -> None:
    with pytest.raises(NotImplementedError, match="next_batch"):
        BaseTrainer[torch.Tensor](nn.Linear(2, 1), LOOP, device=CPU).run()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"steps": 0}, "must be positive"),
        ({"batch_size": 0}, "must be positive"),
        ({"steps_per_epoch": 0}, "None"),
    ],
)
def test_a_loop_config_refuses_what_cannot_run(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(LOOP, **settings)


def test_the_default_schedule_warms_up_linearly_then_falls_on_a_cosine_to_five_percent() -> None:
    factors = [lr_factor(step, warmup_steps=4, steps=8) for step in range(10)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4:] == pytest.approx([1.0, 0.8609, 0.525, 0.1891, 0.05, 0.05], abs=1e-4)


def test_the_cosine_without_warm_up_starts_at_the_peak() -> None:
    assert [cosine_factor(step, 4) for step in (0, 2, 4, 8)] == pytest.approx([1.0, 0.525, 0.05, 0.05])


# The trainings that use it ----------------------------------------------------------------


def test_segmentation_pretraining_and_the_tag_classifier_are_base_trainers() -> None:
    assert issubclass(Trainer, BaseTrainer)
    assert issubclass(PretextTrainer, BaseTrainer)
    assert issubclass(ClassifierTrainer, BaseTrainer)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The class of every trainer whose BaseTrainer.run is called."""
    seen: list[str] = []
    original = BaseTrainer.run

    def spy(self: BaseTrainer[object]) -> LoopResult:
        seen.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(BaseTrainer, "run", spy)
    return seen


def tiny_pretraining() -> tuple[PretrainConfig, list[PretrainSample]]:
    image = np.random.default_rng(0).random((1, 32, 32), dtype=np.float32)
    config = PretrainConfig(task="masked", patch_size=32, batch_size=2, steps=3, warmup_steps=1)
    return config, [PretrainSample(image)]


def tiny_tiles() -> tuple[ClassifierConfig, list[TaggedTile]]:
    rng = np.random.default_rng(1)
    tiles = [TaggedTile(rng.random((1, 16, 16), dtype=np.float32), present=i % 2 == 0) for i in range(4)]
    return ClassifierConfig(depth=1, tile_size=16, batch_size=2, steps=3), tiles


def test_pretraining_goes_through_the_base_loop_and_a_cancel_stops_it(runs: list[str]) -> None:
    config, samples = tiny_pretraining()
    steps: list[int] = []
    pretrain(config, samples, device=CPU, callbacks=Callbacks(on_step=lambda e: steps.append(e.step)))
    assert runs == ["PretextTrainer"] and steps == [1, 2, 3]
    cancel = Callbacks(on_step=lambda e: steps.append(e.step), should_cancel=lambda: len(steps) >= 4)
    with pytest.raises(TrainingCancelled, match="cancelled at step 1"):
        pretrain(config, samples, device=CPU, callbacks=cancel)
    assert steps == [1, 2, 3, 1]


def test_the_tag_classifier_goes_through_the_base_loop_and_a_cancel_stops_it(runs: list[str]) -> None:
    config, tiles = tiny_tiles()
    events: list[StepEvent] = []
    train_classifier(tiles, config, device=CPU, callbacks=Callbacks(on_step=events.append))
    assert runs == ["ClassifierTrainer"] and [e.step for e in events] == [1, 2, 3]
    # Its schedule is the cosine without warm-up: after k of 3 steps, 1e-3 * cosine_factor(k, 3).
    expected = [1e-3 * cosine_factor(k, 3) for k in (1, 2, 3)]
    assert [e.learning_rate for e in events] == pytest.approx(expected)
    cancel = Callbacks(on_step=events.append, should_cancel=lambda: len(events) >= 5)
    with pytest.raises(TrainingCancelled, match="classifier cancelled at step 2"):
        train_classifier(tiles, config, device=CPU, callbacks=cancel)


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("asked", "expected"), [("1", 1), ("64", 2), ("", 2), ("two", 2), ("0", 2)])
def test_cpu_training_uses_the_cores_it_may_run_on_or_fewer_if_asked(
    monkeypatch, restore_threads, asked, expected
):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", asked)
    assert cpu_threads() == expected
    assert choose_device("cpu").type == "cpu" and torch.get_num_threads() == expected
