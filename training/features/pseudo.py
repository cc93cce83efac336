"""Derived pseudo-masks from a model version's confident predictions (self-training).

Where the model was sure (normalised entropy <= max_uncertainty) its class becomes a derived
label; elsewhere the pseudo-mask says nothing. They are stored as the image's derived layer with
source "model" and provenance (which version, which threshold), so a run can train on them with
the lower `derived_weight`, and human labels always win over them (training/runs/snapshot.py). A
derived layer a person has touched since it was generated is kept as it is (the one rule,
labeling.selectors.derived_layer_state): regenerating never overwrites someone's corrections.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model

from labeling import labelmaps, selectors, services
from labeling.errors import Conflict, InvalidInput
from training.models import ModelVersion
from webapp import events, jobs, live

log = logging.getLogger(__name__)

SOURCE = "model"


@dataclass
class Derived:
    made: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # touched by a person, or saved meanwhile


def pseudo_masks_start(*, version: ModelVersion, author: Any, max_uncertainty: float) -> int:
    """Queue `derive_pseudo_masks` for a version that has scored images; returns how many.

    400 for a version that does not predict, 409 while it has scored nothing yet.
    """
    if not version.predicts:
        raise InvalidInput(f"Model version {version.pk} is a pretrained {version.kind}; it does not predict.")
    scored = version.predictions.count()
    if not scored:
        raise Conflict("This model version has not scored any image yet; wait for its predictions.")
    jobs.send("derive_pseudo_masks", version.pk, int(author.pk or 0), max_uncertainty)  # training/actors.py
    return scored


def derive_job(model_version_id: int, author_id: int, max_uncertainty: float) -> None:
    """Confident predictions of a model version -> derived layers, then `pseudo_masks.ready`."""
    version = ModelVersion.objects.filter(pk=model_version_id).first()
    if version is None:
        log.info("model version %s is gone; no pseudo-masks", model_version_id)
        return
    author = get_user_model().objects.get(pk=author_id)
    derived = derive_from_predictions(version=version, author=author, max_uncertainty=max_uncertainty)
    live.publish(
        version.project_id,
        events.PseudoMasksReady(
            model_version=version.pk, source=SOURCE, made=derived.made, kept=derived.kept
        ),
    )
    live.flush()


def derive_from_predictions(
    *, version: ModelVersion, author: Any, max_uncertainty: float, image_ids: list[int] | None = None
) -> Derived:
    result = Derived()
    predictions = version.predictions.select_related("image").filter(image__archived_at__isnull=True)
    if image_ids is not None:
        predictions = predictions.filter(image_id__in=image_ids)
    provenance = {"source": SOURCE, "model_version": version.pk, "max_uncertainty": max_uncertainty}
    for prediction in predictions:
        image = prediction.image
        head = selectors.derived_layer(image, SOURCE)
        if head is not None and selectors.derived_layer_state(head) != "generated":
            result.kept.append(image.pk)
            continue
        classes = labelmaps.decode_png_map(selectors.read_file(prediction.mask), what="prediction")
        entropy = labelmaps.decode_png_map(
            selectors.read_file(prediction.uncertainty_map), what="uncertainty"
        )
        confident = entropy.astype(np.float32) <= max_uncertainty * 255.0
        mask = np.where(confident, classes, 0).astype(np.uint16)
        saved = services.derived_layer_save(
            image=image, author=author, head=head, provenance=provenance, mask=mask
        )
        (result.made if saved is not None else result.kept).append(image.pk)
    return result
