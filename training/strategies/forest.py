"""The "forest" strategy: the random-forest peer (training/ml/peer.py) as a model version of its own.

On easy images the fast pixel classifier of the instant preview is about as good as the U-Net, in
seconds instead of minutes. This strategy fits the peer's forest (multiscale filter features,
scikit-learn's RandomForestClassifier) on the run's frozen labels, assembled as the "labels"
strategy assembles them (training/runs/snapshot.py: scribbles over dense masks, pseudo-masks where
no person labelled, at `derived_weight`), a bounded stratified sample of each training image's
labelled pixels. Its model version has kind "forest" and a joblib file
(training/ml/forest_model.py); it is scored on the validation images with the same metrics as a
network, and predicts, ranks and exports predictions like one. It has no network: no steps,
patches or warm start, and model export (TorchScript, ONNX, BioImage.IO) refuses it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np

from labeling.errors import InvalidInput
from labeling.models import Project
from training.ml.forest_model import ForestModel
from training.ml.loop import EpochEvent, TrainingCancelled, foreground_f1
from training.ml.peer import PeerConfig, fit_sample, sample_peer
from training.models import VersionKind
from training.runs.snapshot import RunData, load_run_data, to_label_indices
from training.runs.spec import (
    MAX_FOREST_SAMPLES_PER_IMAGE,
    MAX_FOREST_TREES,
    ForestOptions,
    RunSpec,
    whole_number,
)
from training.strategies.base import Made, Prepared, TrainContext
from training.strategies.labels import prepare_labelled

log = logging.getLogger(__name__)

LABEL_KEYS = ("label_sources", "derived_sources", "label_approval", "channels", "preview_images")
SHARED_KEYS = ("derived_weight", "seed")  # TrainConfig fields a forest uses too
FOREST_KEYS = ("n_estimators", "max_depth", "sigma_min", "sigma_max", "max_samples_per_image")
MAX_DEPTH = 64
MAX_SIGMA = 64.0


class ForestStrategy:
    name = "forest"
    warm_starts = False  # a forest is fitted from scratch, in seconds
    trains_a_network = False

    def prepare(
        self, *, project: Project, options: dict[str, Any], train_image_limit: int | None
    ) -> Prepared:
        other = sorted(key for key in options if key not in (*LABEL_KEYS, *SHARED_KEYS, *FOREST_KEYS))
        if other:
            raise InvalidInput(
                f'{", ".join(other)} do not apply to the strategy "forest": a random forest has no '
                "network, steps or patches. Leave them out."
            )
        given = {key: options.pop(key) for key in FOREST_KEYS if key in options}
        prepared = prepare_labelled(project=project, options=options, train_image_limit=train_image_limit)
        settings = _forest_settings(given, seed=prepared.spec.train.seed)
        spec = dataclasses.replace(prepared.spec, forest=ForestOptions(settings))
        return Prepared(spec=spec, snapshot=prepared.snapshot)

    def options_of(self, spec: RunSpec, *, project: Project) -> dict[str, Any]:
        assert spec.forest is not None
        settings = dataclasses.asdict(spec.forest.settings)
        options: dict[str, Any] = {
            "strategy": self.name,
            "channels": list(spec.channels),
            "label_sources": list(spec.label_sources),
            "label_approval": spec.label_approval,
            "preview_images": spec.preview_count,
            "derived_weight": spec.train.derived_weight,
            "seed": spec.train.seed,
            **{key: settings[key] for key in FOREST_KEYS},
        }
        if spec.derived_sources is not None:
            options["derived_sources"] = list(spec.derived_sources)
        return options

    def train(self, context: TrainContext) -> Made:
        spec, reporter = context.spec, context.reporter
        assert spec.forest is not None
        settings = spec.forest.settings
        started = time.perf_counter()
        data = load_run_data(context.run.label_snapshot, spec)
        total = len(data.train)

        def on_image(done: int) -> None:
            reporter.stage("features", done, total)
            if context.should_cancel():
                raise TrainingCancelled

        sample = sample_peer(
            [s.image for s in data.train],
            [s.target for s in data.train],
            settings,
            weights=[s.weight for s in data.train],
            on_image=on_image,
        )
        log.info("run %s: fitting a forest on %d pixels of %d images", context.run.pk, sample.y.size, total)
        model = ForestModel(fit_sample(sample, settings), settings, num_classes=len(spec.classes))
        loss = _log_loss(model, sample.x, sample.y)
        predicted = [model.predict(s.image).classes for s in data.validation]
        metrics = _scores(predicted, data, len(spec.classes))
        event = EpochEvent(epoch=1, step=1, train_loss=loss, metrics=metrics, is_best=True)
        reporter.validation(event)
        # Previews as a network run shows them: validation images first (predicted already).
        previews = list(zip(data.validation_images, predicted, strict=True))[: spec.preview_count]
        for image, sample_of in zip(data.train_images, data.train, strict=True):
            if len(previews) >= spec.preview_count:
                break
            previews.append((image, model.predict(sample_of.image).classes))
        for image, classes in previews:
            reporter.preview(event, image.pk, to_label_indices(classes, spec.classes))
        run_metrics = {
            "validation": metrics,
            "train_loss": round(loss, 6),
            "pixels": int(sample.y.size),
            "seconds": round(time.perf_counter() - started, 1),
            "train_images": [image.pk for image in data.train_images],
            "validation_images": [image.pk for image in data.validation_images],
        }
        return Made(model=model, kind=VersionKind.FOREST, ranges=data.ranges, metrics=run_metrics)


def _forest_settings(given: dict[str, Any], *, seed: int) -> PeerConfig:
    defaults = PeerConfig()
    depth = given.get("max_depth", defaults.max_depth)
    sigma_min = given.get("sigma_min", defaults.sigma_min)
    sigma_max = given.get("sigma_max", defaults.sigma_max)
    for name, value in (("sigma_min", sigma_min), ("sigma_max", sigma_max)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= MAX_SIGMA:
            raise InvalidInput(f"{name} must be a number above 0 and at most {MAX_SIGMA:g} (pixels).")
    if sigma_min > sigma_max:
        raise InvalidInput(f"sigma_min ({sigma_min}) must not be above sigma_max ({sigma_max}).")
    return PeerConfig(
        sigma_min=float(sigma_min),
        sigma_max=float(sigma_max),
        n_estimators=whole_number(
            given.get("n_estimators", defaults.n_estimators), "n_estimators", 1, MAX_FOREST_TREES
        ),
        max_depth=None if depth is None else whole_number(depth, "max_depth", 1, MAX_DEPTH),
        max_samples_per_image=whole_number(
            given.get("max_samples_per_image", defaults.max_samples_per_image),
            "max_samples_per_image",
            100,
            MAX_FOREST_SAMPLES_PER_IMAGE,
        ),
        seed=seed,
    )


def _scores(predicted: list[np.ndarray], data: RunData, num_classes: int) -> dict[str, float]:
    """The validation images' pixel F1 and IoU, over all their pixels together, as a network's."""
    if not data.validation:
        return {}
    return foreground_f1(
        np.concatenate([p.ravel() for p in predicted]),
        np.concatenate([s.target.ravel() for s in data.validation]),
        num_classes,
    )


def _log_loss(model: ForestModel, x: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of the forest's probabilities on the pixels it was fitted on."""
    probabilities = model.forest.predict_proba(x)
    column = np.searchsorted(model.forest.classes_, y)
    picked = np.clip(probabilities[np.arange(y.size), column], 1e-7, 1.0)
    return float(-np.log(picked).mean())
