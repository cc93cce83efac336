"""The one training loop: a base trainer whose subclasses fill in small hooks.

The segmentation Trainer (loop.py), self-supervised pretraining (pretrain.py) and the tag
classifier (scorecam.py) all train through `BaseTrainer.run`, which owns what they share: AdamW
with a LambdaLR schedule, the cancel check before every step, step timing, a StepEvent after every
step, and the epoch boundary. What differs lives in the hooks:

- `next_batch() -> batch`: the next training batch.
- `compute_loss(batch) -> loss`: forward pass and loss of one batch (a 0-dim tensor).
- `train_mode()`: put the model in training mode before each step (default: `model.train()`).
- `lr_factor(step) -> float`: the learning-rate multiplier of a step (default: warm-up + cosine).
- `on_epoch_end(train_loss) -> bool`: after every `steps_per_epoch` steps and after the last step;
  True stops training early (default: nothing, never stop).

`train_step(batch) -> float` calls `train_mode` and `compute_loss` and takes one optimiser and
scheduler step; a subclass may replace it whole.

It knows nothing of Django: progress goes out through callbacks, cancellation comes in through
one (checked every step), and the device is chosen by the caller and passed in.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import numpy as np
import torch
from torch import nn


class TrainingCancelled(Exception):
    pass


@dataclass(frozen=True)
class StepEvent:
    step: int
    epoch: int
    loss: float
    learning_rate: float
    samples_per_second: float
    eta_seconds: float


@dataclass(frozen=True)
class EpochEvent:
    epoch: int
    step: int
    train_loss: float
    metrics: dict[str, float]
    is_best: bool
    preview: np.ndarray | None = None  # class map of the first validation image


@dataclass
class Callbacks:
    on_step: Callable[[StepEvent], None] | None = None
    on_epoch: Callable[[EpochEvent], None] | None = None
    should_cancel: Callable[[], bool] | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def choose_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else the CPU with `cpu_threads()` threads."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("CUDA was asked for but no GPU is visible to this process")
        return torch.device("cuda")
    torch.set_num_threads(cpu_threads())
    return torch.device("cpu")


def cpu_threads() -> int:
    """The cores this process may run on, or fewer where OMP_NUM_THREADS asks for fewer.

    A worker that shares its cores with other busy processes can be given fewer: PyTorch's threads
    wait for each other at the end of every operation, so one on a core another process keeps busy
    holds up the rest (a 4x64-px step on 2 cores beside two busy processes: 0.52 s with 2 threads,
    0.39 s with 1). Tests give their workers one thread.
    """
    cores = max(1, len(_cpu_cores()))
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(cores, int(asked)) if asked.isdigit() and int(asked) >= 1 else cores


def _cpu_cores() -> set[int]:
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def lr_factor(step: int, *, warmup_steps: int, steps: int) -> float:
    """Learning-rate multiplier: linear warm-up, then a cosine down to 5% of the peak."""
    warmup = max(1, warmup_steps)
    if step < warmup:
        return (step + 1) / warmup
    return cosine_factor(step - warmup, steps - warmup)


def cosine_factor(step: int, steps: int) -> float:
    """Learning-rate multiplier without warm-up: a cosine from 1 at step 0 to 0.05 at `steps`
    (and 0.05 after)."""
    progress = step / max(1, steps)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def smoothed_step_time(previous: float, elapsed: float) -> float:
    """Seconds per step for rates and ETAs: the first step's time, then an exponential average
    (10% weight on the newest step), so one slow step does not swing the ETA."""
    return elapsed if previous == 0 else 0.9 * previous + 0.1 * elapsed


@dataclass(frozen=True)
class LoopConfig:
    """What the loop needs of a training's settings; each trainer derives it from its own config."""

    steps: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_steps: int = 0  # for the default lr_factor
    steps_per_epoch: int | None = None  # None: one epoch, which ends at the last step
    amp: bool = False  # bf16 autocast on CUDA inside `autocast()`; ignored on the CPU

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps ({self.steps}) and batch_size ({self.batch_size}) must be positive")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be positive or None, not {self.steps_per_epoch}")


@dataclass
class LoopResult:
    losses: list[float]  # every step's loss, in the order run() took the steps
    steps: int  # the step reached (a resumed run counts the steps before it too)
    epochs: int
    seconds: float
    stopped_early: bool = False


Batch = TypeVar("Batch")


class BaseTrainer(Generic[Batch]):
    """AdamW over the model's trainable parameters, a LambdaLR schedule of `lr_factor`, and the
    step loop in `run()`. Subclasses seed (`seed_everything`) and build their model before calling
    `super().__init__`, then implement `next_batch` and `compute_loss`."""

    # The TrainingCancelled message; `{step}` is the number of steps taken.
    cancelled_message: ClassVar[str] = "cancelled at step {step}"

    def __init__(
        self, model: nn.Module, loop: LoopConfig, *, device: torch.device, callbacks: Callbacks | None = None
    ) -> None:
        self.loop_config = loop
        self.device = device
        self.callbacks = callbacks or Callbacks()
        self.model = model.to(device)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad],
            lr=loop.learning_rate,
            weight_decay=loop.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)
        self.step = 0  # steps taken
        self.epoch = 0  # epochs ended

    # Hooks ------------------------------------------------------------------------------

    def next_batch(self) -> Batch:
        raise NotImplementedError(f"{type(self).__name__} must say how to draw a batch (next_batch)")

    def compute_loss(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must say how to score a batch (compute_loss)")

    def train_mode(self) -> None:
        self.model.train()

    def lr_factor(self, step: int) -> float:
        """The learning-rate multiplier after `step` scheduler steps. LambdaLR first calls it inside
        `BaseTrainer.__init__`, so an override may read `self.loop_config` but nothing a subclass
        sets after `super().__init__`."""
        return lr_factor(step, warmup_steps=self.loop_config.warmup_steps, steps=self.loop_config.steps)

    def on_epoch_end(self, train_loss: float) -> bool:
        """Called with the epoch's mean training loss; True stops training early."""
        return False

    def train_step(self, batch: Batch) -> float:
        """One optimiser and scheduler step on `batch`; returns its loss."""
        self.train_mode()
        loss = self.compute_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach())

    # The loop ---------------------------------------------------------------------------

    def run(self) -> LoopResult:
        """Train from `self.step` to the last step, or until `on_epoch_end` says stop.

        `callbacks.should_cancel` is asked before every step (TrainingCancelled when it says yes);
        `callbacks.on_step` gets a StepEvent after every step.
        """
        started = time.perf_counter()
        losses: list[float] = []
        epoch_start = 0  # index in `losses` of the epoch's first step
        step_time = 0.0
        while self.step < self.loop_config.steps:
            self.check_cancel()
            tick = time.perf_counter()
            losses.append(self.train_step(self.next_batch()))
            step_time = smoothed_step_time(step_time, time.perf_counter() - tick)
            self.step += 1
            self.report_step(losses[-1], step_time)
            if self.at_epoch_end():
                self.epoch += 1
                if self.on_epoch_end(float(np.mean(losses[epoch_start:]))):
                    return self._result(losses, started, stopped_early=True)
                epoch_start = len(losses)
        return self._result(losses, started, stopped_early=False)

    def check_cancel(self) -> None:
        if self.callbacks.should_cancel and self.callbacks.should_cancel():
            raise TrainingCancelled(self.cancelled_message.format(step=self.step))

    def at_epoch_end(self) -> bool:
        per_epoch = self.loop_config.steps_per_epoch
        return self.step == self.loop_config.steps or (per_epoch is not None and self.step % per_epoch == 0)

    def report_step(self, loss: float, step_time: float) -> None:
        if self.callbacks.on_step is None:
            return
        self.callbacks.on_step(
            StepEvent(
                step=self.step,
                epoch=self.epoch,
                loss=loss,
                learning_rate=float(self.scheduler.get_last_lr()[0]),
                samples_per_second=self.loop_config.batch_size / step_time if step_time else 0.0,
                eta_seconds=step_time * (self.loop_config.steps - self.step),
            )
        )

    def autocast(self) -> torch.autocast:
        """bf16 mixed precision on CUDA when the loop config allows it; plain float32 on the CPU."""
        enabled = self.loop_config.amp and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _result(self, losses: list[float], started: float, *, stopped_early: bool) -> LoopResult:
        return LoopResult(
            losses=losses,
            steps=self.step,
            epochs=self.epoch,
            seconds=time.perf_counter() - started,
            stopped_early=stopped_early,
        )
