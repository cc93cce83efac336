"""What a run strategy is: it parses its options, freezes the labels it trains on, and trains.

The registry (training/strategies/__init__.py) maps each strategy's name to one instance; the
create step, the worker and retraining look strategies up there instead of branching on names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from labeling.models import Project
from training.ml import checkpoint as ckpt
from training.ml.checkpoint import Checkpoint
from training.ml.forest_model import ForestModel, forest_bytes
from training.models import TrainingRun
from training.runs.reporter import RunReporter
from training.runs.snapshot import Snapshot
from training.runs.spec import RunSpec


@dataclass(frozen=True)
class Prepared:
    """A strategy's answer to a request: the parsed spec and the labels it freezes."""

    spec: RunSpec
    snapshot: Snapshot


@dataclass
class TrainContext:
    """What a strategy trains with on the worker; the device is chosen once, by the caller."""

    run: TrainingRun
    spec: RunSpec
    device: torch.device
    reporter: RunReporter
    should_cancel: Callable[[], bool]
    initial_weights: dict[str, torch.Tensor] | None = None


@dataclass
class Made:
    """What a training made, for the model version the worker stores."""

    model: Checkpoint | ForestModel  # a network's checkpoint, or a "forest" run's forest
    kind: str  # training.models.VersionKind
    ranges: list[tuple[float, float]]  # per input channel, measured on the training images
    metrics: dict[str, Any]

    def weights_file(self) -> tuple[bytes, str]:
        """The stored file's bytes and suffix: a torch checkpoint (.pt) or a joblib forest (.joblib)."""
        if isinstance(self.model, ForestModel):
            return forest_bytes(self.model), ".joblib"
        return ckpt.checkpoint_bytes(self.model), ".pt"


class Strategy(Protocol):
    name: str
    warm_starts: bool  # whether a run may start from an earlier model version's weights
    trains_a_network: bool  # whether presets (steps, batch and patch sizes) apply to its runs

    def prepare(
        self, *, project: Project, options: dict[str, Any], train_image_limit: int | None
    ) -> Prepared:
        """Parse the request's options (the strategy's own and the shared ones) and freeze labels.

        Raises InvalidInput (a 400) for a bad value; nothing is written either way.
        """
        ...

    def options_of(self, spec: RunSpec, *, project: Project) -> dict[str, Any]:
        """The request options that make a run like `spec` again (correct-and-retrain)."""
        ...

    def train(self, context: TrainContext) -> Made:
        """Train on the worker; raises TrainingCancelled when context.should_cancel() says so."""
        ...
