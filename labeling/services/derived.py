"""Derived layers: label maps a generator made (the fluorescence teacher, Score-CAM, a model's
confident predictions), written whole as revisions of the image's derived layer of that source.

A generator never overwrites a person: whether a person has touched a layer is one rule,
`selectors.derived_layer_state`, and a save based on a version someone moved on from is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labeling import labelmaps
from labeling.errors import Conflict
from labeling.models import Annotation, AnnotationKind, Image
from labeling.services.annotations import annotation_save


def derived_layer_save(
    *, image: Image, author: Any, head: Annotation | None, provenance: dict[str, Any], mask: np.ndarray
) -> Annotation | None:
    """Write a whole generated label map as the next revision of the image's derived layer.

    Returns the saved layer, or None when someone saved the layer after `head` was read: theirs
    stands, a generator never overwrites a revision it has not seen.
    """
    try:
        return annotation_save(
            image=image,
            author=author,
            kind=AnnotationKind.DERIVED,
            base_version=head.version if head is not None else 0,
            data={"strokes": [], "provenance": provenance},
            mask=labelmaps.encode_map(mask),
        )
    except Conflict:
        return None
