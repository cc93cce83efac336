"""The segmentation Trainer: the base loop (trainer.py) with hooks for patches, validation,
checkpoints and early stopping.

It knows nothing of Django: progress goes out through callbacks, cancellation comes in through
one (checked every step), and the device is chosen by the caller and passed in. The loop's shared
names (Callbacks, the events, seeding, the device, the schedule) live in trainer.py and are
importable from here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training.ml import checkpoint as ckpt
from training.ml.config import TrainConfig
from training.ml.data import PatchSampler, Sample, class_weights, covering_tiles
from training.ml.inference import predict
from training.ml.losses import SegmentationLoss
from training.ml.metrics import pixel_scores
from training.ml.models import create_model, encoder_of, load_weights
from training.ml.trainer import (
    BaseTrainer,
    Callbacks,
    EpochEvent,
    LoopConfig,
    StepEvent,
    TrainingCancelled,
    choose_device,
    lr_factor,
    seed_everything,
)

__all__ = [
    "BATCH_NORM_TILES",
    "BATCH_NORM_TILE_SIZE",
    "Callbacks",
    "EpochEvent",
    "StepEvent",
    "TrainResult",
    "Trainer",
    "TrainingCancelled",
    "choose_device",
    "foreground_f1",
    "lr_factor",
    "seed_everything",
]

# Tiles over which batch-norm statistics are measured (recompute_batch_norm): at most this many,
# of up to this size. The whole grid of 256-px tiles over aisegcell's 12 training fields (664)
# gave pixel F1 0.648 where 64 random tiles of 128 px gave 0.619 (bench/README.md).
BATCH_NORM_TILES = 512
BATCH_NORM_TILE_SIZE = 256

SegmentationBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # x, y, w as PatchSampler.batch


@dataclass
class TrainResult:
    model: nn.Module  # holding the best weights (by validation pixel F1), else the last
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    steps: int
    epochs: int
    seconds: float
    stopped_early: bool = False
    best_state: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)


def foreground_f1(pred: np.ndarray, target: np.ndarray, num_classes: int) -> dict[str, float]:
    """Validation summary: mean pixel F1 and IoU over the classes other than 0 (background)."""
    scores = pixel_scores(pred, target, num_classes=num_classes)
    foreground = [scores[c] for c in range(1, num_classes)]
    return {
        "pixel_f1": float(np.mean([s["f1"] for s in foreground])),
        "iou": float(np.mean([s["iou"] for s in foreground])),
        **{f"f1_class_{c}": float(scores[c]["f1"]) for c in range(num_classes)},
    }


def loop_config(config: TrainConfig) -> LoopConfig:
    """The base loop's share of a TrainConfig: every LoopConfig field, from the field of that name."""
    return LoopConfig(
        **{loop_field.name: getattr(config, loop_field.name) for loop_field in fields(LoopConfig)}
    )


class Trainer(BaseTrainer[SegmentationBatch]):
    """Segmentation on labelled patches. Hooks: patches from a PatchSampler (`next_batch`), the
    segmentation loss (`compute_loss`), and at each epoch's end recomputed batch-norm statistics,
    validation, the best weights, a checkpoint and early stopping (`on_epoch_end`)."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        train: list[Sample],
        validation: list[Sample],
        device: torch.device,
        callbacks: Callbacks | None = None,
        checkpoint_dir: Path | None = None,
        initial_weights: dict[str, torch.Tensor] | None = None,
        weights_dir: Path | None = None,
    ) -> None:
        seed_everything(config.seed)
        self.config = config
        self.validation = validation
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.sampler = PatchSampler(train, config, seed=config.seed)
        model = create_model(config, weights_dir=weights_dir)
        if initial_weights is not None:
            load_weights(model, initial_weights)
        self.frozen_encoder = _frozen_encoder(model, config, warm=initial_weights is not None)
        super().__init__(model, loop_config(config), device=device, callbacks=callbacks)
        weights = (
            torch.from_numpy(class_weights(train, config.num_classes)) if config.weight_classes else None
        )
        self.loss = SegmentationLoss(
            dice_weight=config.dice_weight,
            class_weights=weights,
            pairwise_weight=config.pairwise_weight,
            pairwise_sigma=config.pairwise_sigma,
        ).to(device)
        self.history: list[dict[str, Any]] = []
        self.best_metrics: dict[str, float] = {}
        self.best_state: dict[str, torch.Tensor] = {}
        self.epochs_without_gain = 0

    def fit(self, *, resume: bool = False) -> TrainResult:
        """Train (from the last checkpoint when `resume`), then hold the best weights."""
        if resume:
            self.resume()
        run = self.run()
        if self.best_state:
            self.model.load_state_dict(self.best_state)
        return TrainResult(
            model=self.model,
            metrics=self.best_metrics or (self.history[-1] if self.history else {}),
            history=self.history,
            steps=run.steps,
            epochs=run.epochs,
            seconds=run.seconds,
            stopped_early=run.stopped_early,
            best_state=self.best_state or ckpt.cpu_state(self.model),
        )

    # Hooks ------------------------------------------------------------------------------

    def next_batch(self) -> SegmentationBatch:
        return self.sampler.batch()

    def train_mode(self) -> None:
        self.model.train()
        if self.frozen_encoder is not None:  # its batch-norm statistics stay the starting ones too
            self.frozen_encoder.eval()

    def compute_loss(self, batch: SegmentationBatch) -> torch.Tensor:
        x, y, w = (t.to(self.device, non_blocking=True) for t in batch)
        with self.autocast():
            logits = self.model(x)
        loss: torch.Tensor = self.loss(logits.float(), y, w, image=x)
        return loss

    @torch.no_grad()
    def recompute_batch_norm(self) -> None:
        """Batch-norm statistics of the weights as they are now, measured on tiles covering the
        training images (labelled pixels or not), for every layer that trains.

        In training the statistics are a running average over label-centred patches of weights
        that kept changing; a model predicting whole images in eval mode then normalises with
        statistics of neither those weights nor those images ("precise BN", Wu & Johnson 2021).
        """
        frozen = set(self.frozen_encoder.modules()) if self.frozen_encoder is not None else set()
        batch_norms = (m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))
        layers = [m for m in batch_norms if m not in frozen]
        if not layers:
            return
        momenta = [layer.momentum for layer in layers]
        self.model.eval()
        for layer in layers:
            layer.train()
        tiles = covering_tiles(
            self.sampler.samples,
            largest=max(BATCH_NORM_TILE_SIZE, self.config.patch_size),
            limit=BATCH_NORM_TILES,
            batch_size=self.config.batch_size,
            seed=self.config.seed,
        )
        seen = 0
        with self.autocast():
            for batch in tiles:
                seen += len(batch)
                for layer in layers:  # so the running values are means weighted by tile count
                    layer.momentum = len(batch) / seen
                self.model(batch.to(self.device))
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        self.model.eval()

    def validation_step(self) -> tuple[dict[str, float], np.ndarray | None]:
        """Pixel F1 and IoU over all validation pixels together, and the first image's class map."""
        if not self.validation:
            return {}, None
        predictions, targets = [], []
        for sample in self.validation:
            tile = min(512, max(64, self.config.patch_size * 2))
            predicted = predict(self.model, sample.image, device=self.device, tile=tile, overlap=32)
            predictions.append(predicted.classes.ravel())
            targets.append(sample.target.ravel())
        metrics = foreground_f1(np.concatenate(predictions), np.concatenate(targets), self.config.num_classes)
        first = predictions[0].reshape(self.validation[0].target.shape)
        return metrics, first

    def on_epoch_end(self, train_loss: float) -> bool:
        """Validate, keep the best weights, checkpoint, report. True means stop early."""
        if self.config.recompute_batch_norm and (self.validation or self.step >= self.config.steps):
            self.recompute_batch_norm()
        metrics, preview = self.validation_step()
        is_best = not self.best_metrics or metrics.get("pixel_f1", 0.0) > self.best_metrics.get(
            "pixel_f1", -1.0
        )
        if is_best:
            self.best_metrics = dict(metrics)
            self.best_state = ckpt.cpu_state(self.model)
            self.epochs_without_gain = 0
        else:
            self.epochs_without_gain += 1
        self.history.append({"epoch": self.epoch, "step": self.step, "train_loss": train_loss, **metrics})
        self.save()
        if self.callbacks.on_epoch:
            self.callbacks.on_epoch(EpochEvent(self.epoch, self.step, train_loss, metrics, is_best, preview))
        patience = self.config.early_stopping_epochs
        return bool(self.validation) and patience > 0 and self.epochs_without_gain >= patience

    # Checkpoints ------------------------------------------------------------------------

    def save(self) -> None:
        if self.checkpoint_dir is None:
            return
        ckpt.save_checkpoint(
            self.checkpoint_dir / "last.pt",
            ckpt.Checkpoint(
                config=self.config,
                model_state=ckpt.cpu_state(self.model),
                step=self.step,
                epoch=self.epoch,
                metrics=self.best_metrics,
                history=self.history,
                optimizer_state=self.optimizer.state_dict(),
                scheduler_state=self.scheduler.state_dict(),
                best_model_state=self.best_state or None,
                trainer_state={
                    "sampler_rng": self.sampler.rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "epochs_without_gain": self.epochs_without_gain,
                },
            ),
        )

    def resume(self) -> None:
        """Continue from checkpoint_dir/last.pt, if there is one, exactly where it stopped."""
        path = self.checkpoint_dir / "last.pt" if self.checkpoint_dir else None
        if path is None or not path.exists():
            return
        saved = ckpt.load_checkpoint(path)
        if saved.config != self.config:
            raise ValueError(f"{path} was written with another TrainConfig; start a new run instead")
        self.model.load_state_dict(saved.model_state)
        if saved.optimizer_state:
            self.optimizer.load_state_dict(saved.optimizer_state)
        if saved.scheduler_state:
            self.scheduler.load_state_dict(saved.scheduler_state)
        self.step, self.epoch, self.history = saved.step, saved.epoch, saved.history
        self.best_metrics = saved.metrics
        self.best_state = saved.best_model_state or {}
        if saved.trainer_state:
            self.sampler.rng.bit_generator.state = saved.trainer_state["sampler_rng"]
            torch.set_rng_state(saved.trainer_state["torch_rng"])
            self.epochs_without_gain = saved.trainer_state["epochs_without_gain"]


def _frozen_encoder(model: nn.Module, config: TrainConfig, *, warm: bool) -> nn.Module | None:
    """The encoder, kept from learning, when config.freeze_encoder; else None."""
    if not config.freeze_encoder:
        return None
    if not warm and config.encoder_weights is None:
        raise ValueError(
            "freeze_encoder keeps the encoder's starting weights: start from a model version "
            "or ImageNet weights (a random encoder would stay random)"
        )
    encoder = encoder_of(model)
    encoder.requires_grad_(False)
    return encoder
