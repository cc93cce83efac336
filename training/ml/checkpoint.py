"""Checkpoints: weights, TrainConfig, progress and metrics in one file, written atomically.

A checkpoint is written to a temporary file in the same folder and renamed over the old one, so
a worker killed mid-write leaves the previous checkpoint intact, never half a file.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.ml.config import TrainConfig

FORMAT = 1


@dataclass
class Checkpoint:
    config: TrainConfig
    model_state: dict[str, torch.Tensor]
    step: int = 0
    epoch: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    optimizer_state: dict[str, Any] | None = None
    scheduler_state: dict[str, Any] | None = None
    best_model_state: dict[str, torch.Tensor] | None = None
    trainer_state: dict[str, Any] | None = None  # random generators, early-stopping counter


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(_payload(checkpoint), file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> Checkpoint:
    return _from_payload(torch.load(Path(path), map_location="cpu", weights_only=False), where=str(path))


def checkpoint_bytes(checkpoint: Checkpoint) -> bytes:
    """The checkpoint as one blob, for object storage (a model version's weights file)."""
    buffer = io.BytesIO()
    torch.save(_payload(checkpoint), buffer)
    return buffer.getvalue()


def checkpoint_from_bytes(data: bytes, *, where: str = "checkpoint") -> Checkpoint:
    payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    return _from_payload(payload, where=where)


def _payload(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "config": checkpoint.config.to_dict(),
        "model_state": checkpoint.model_state,
        "step": checkpoint.step,
        "epoch": checkpoint.epoch,
        "metrics": checkpoint.metrics,
        "history": checkpoint.history,
        "optimizer_state": checkpoint.optimizer_state,
        "scheduler_state": checkpoint.scheduler_state,
        "best_model_state": checkpoint.best_model_state,
        "trainer_state": checkpoint.trainer_state,
    }


def _from_payload(payload: Any, *, where: str) -> Checkpoint:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{where} is not a Lesslabel checkpoint (format {FORMAT})")
    return Checkpoint(
        config=TrainConfig.from_dict(payload["config"]),
        model_state=payload["model_state"],
        step=payload["step"],
        epoch=payload["epoch"],
        metrics=payload["metrics"],
        history=payload["history"],
        optimizer_state=payload["optimizer_state"],
        scheduler_state=payload["scheduler_state"],
        best_model_state=payload["best_model_state"],
        trainer_state=payload["trainer_state"],
    )


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's weights on the CPU, safe to keep while training goes on."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}
