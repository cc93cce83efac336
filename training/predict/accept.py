"""A prediction becomes labels: its class map (and instances) as a new revision of the image's dense
mask, by the person who accepted it, recording the model version it came from. They then correct
it with the usual tools; the next run trains on it like any dense mask.

Nothing is lost: the dense mask it replaces stays a restorable revision, and a `base_version` that
is not the layer's current one is refused (409) so the page can ask before replacing labels.
"""

from __future__ import annotations

from typing import Any

from labeling import labelmaps, selectors, services
from labeling.errors import InvalidInput
from labeling.models import Annotation
from training.models import Prediction
from training.predict.pipeline import decode_instances

SOURCE = "model"


def prediction_accept(*, prediction: Prediction, author: Any, base_version: int) -> Annotation:
    image = selectors.live_image(prediction.image_id)
    if image is None:
        raise InvalidInput("The image of this prediction is archived; restore it first.")
    mask = labelmaps.decode_png_map(selectors.read_file(prediction.mask), what="prediction")
    instances = decode_instances(selectors.read_file(prediction.instances)) if prediction.instances else None
    provenance = {"source": SOURCE, "model_version": prediction.model_version_id, "prediction": prediction.pk}
    return services.dense_mask_replace(
        image=image,
        author=author,
        base_version=base_version,
        mask=mask,
        instances=instances,
        provenance=provenance,
    )
