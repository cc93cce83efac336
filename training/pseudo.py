"""Derived pseudo-masks from a model version's confident predictions (self-training).

Where the model was sure (normalised entropy <= max_uncertainty) its class becomes a derived
label; elsewhere the pseudo-mask says nothing. They are stored as the image's derived layer with
source "model" and provenance (which version, which threshold), so a run can train on them with
the lower `derived_weight`, and human labels always win over them (training/assemble.py). A
derived layer a person has painted on since it was generated (its latest revision carries
strokes) is kept as it is: regenerating never overwrites someone's corrections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labeling import labelmaps, selectors, services
from labeling.errors import Conflict
from labeling.models import Annotation, AnnotationKind, Image
from training.models import ModelVersion

SOURCE = "model"


@dataclass
class Derived:
    made: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # edited by a person, or saved meanwhile


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
        head = derived_layer(image, SOURCE)
        if head is not None and painted_on(head):
            result.kept.append(image.pk)
            continue
        classes = labelmaps.decode_png_map(selectors.read_file(prediction.mask), what="prediction")
        entropy = labelmaps.decode_png_map(
            selectors.read_file(prediction.uncertainty_map), what="uncertainty"
        )
        confident = entropy.astype(np.float32) <= max_uncertainty * 255.0
        mask = np.where(confident, classes, 0).astype(np.uint16)
        if save_derived(image=image, author=author, head=head, provenance=provenance, mask=mask) is None:
            result.kept.append(image.pk)
            continue
        result.made.append(image.pk)
    return result


def derived_layer(image: Image, source: str) -> Annotation | None:
    """The image's derived layer from this source (its provenance "source" is the layer's key)."""
    return Annotation.objects.filter(image=image, kind=AnnotationKind.DERIVED, key=source).first()


def painted_on(head: Annotation) -> bool:
    """Whether a person has painted on the layer since it was generated (its latest revision has strokes)."""
    latest = head.revisions.order_by("-version").first()
    return latest is not None and not latest.is_deleted and bool(latest.data.get("strokes"))


def save_derived(
    *, image: Image, author: Any, head: Annotation | None, provenance: dict[str, Any], mask: np.ndarray
) -> Annotation | None:
    """Write a whole generated label map as the next revision of the image's derived layer.

    Returns the saved layer, or None when someone saved the layer after `head` was read: theirs
    stands, a generator never overwrites a revision it has not seen.
    """
    try:
        return services.annotation_save(
            image=image,
            author=author,
            kind=AnnotationKind.DERIVED,
            base_version=head.version if head is not None else 0,
            data={"strokes": [], "provenance": provenance},
            mask=labelmaps.encode_map(mask),
        )
    except Conflict:
        return None
