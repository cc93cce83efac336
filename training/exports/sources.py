"""What an export reads, one image at a time: a person's labels, the labels accepted from a
model's predictions, or a model version's predictions, each as a class map and its objects.

Labels are read through labeling's selectors; predictions are this app's own rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from labeling import labelmaps, selectors
from labeling.models import HUMAN_MAP_KINDS, AnnotationKind, Image, Project
from training.ml.measure import Objects, Table, objects_of_instances
from training.models import ModelVersion, Prediction
from training.predict.accept import SOURCE as ACCEPTED_SOURCE
from training.predict.exports import prediction_measured
from training.predict.pipeline import decode_instances

# The class every new project has at index 1: the rest of the image, never an object.
BACKGROUND_INDEX = 1


@dataclass(frozen=True)
class Labelled:
    """One image's labels as exported.

    Shape: classes (H, W) uint16 class indices (0 = unlabelled); objects.instances (H, W) uint32.
    """

    image: Image
    classes: np.ndarray
    objects: Objects
    layers: list[list[int]]  # [annotation id, version] read (the export's label snapshot)
    source: dict[str, Any]  # where the labels came from, for the manifest
    table: Table | None = None  # the measurements stored with a prediction


def object_classes(project: Project) -> tuple[int, ...]:
    """The classes whose regions become objects (COCO annotations, GeoJSON features): all but
    the background."""
    return tuple(sorted(selectors.class_indices(project) - {BACKGROUND_INDEX}))


def objects_of(classes: np.ndarray, instances: np.ndarray | None, kept: tuple[int, ...]) -> Objects:
    """The objects of a class map: those of its instance map where it has one (each taking the
    class most of its pixels have), then every other region of a kept class, one per connected
    component, numbered on after them."""
    if instances is not None:
        found = objects_of_instances(instances, classes, kept)
        ids, object_class = found.instances, [int(c) for c in found.classes]
    else:
        ids, object_class = np.zeros(classes.shape, dtype=np.uint32), [0]
    for index in kept:
        rest = (classes == index) & (ids == 0)
        components, count = ndimage.label(rest)
        if count:
            ids[rest] = components[rest].astype(np.uint32) + (len(object_class) - 1)
            object_class.extend([index] * count)
    object_classes_array = np.asarray(object_class, dtype=np.int64)
    counts = {index: int((object_classes_array[1:] == index).sum()) for index in kept}
    return Objects(ids, object_classes_array, counts)


def human_labels(project: Project) -> Iterator[Labelled]:
    """Each image's human label map (scribbles over the dense mask), with the dense mask's
    instances while no scribble or stroke has changed it since it was saved whole."""
    kept = object_classes(project)
    for image in _images(project):
        classes = selectors.human_label_map(image)
        if classes is None:
            continue
        dense = selectors.dense_maps(image)
        instances = dense[2] if dense is not None else None
        if instances is not None and selectors.has_live_layer(image, AnnotationKind.SCRIBBLE):
            instances = None
        yield Labelled(
            image=image,
            classes=classes.astype(np.uint16),
            objects=objects_of(classes, instances, kept),
            layers=selectors.human_layer_versions(image, HUMAN_MAP_KINDS),
            source={"labels": "human"},
        )


def accepted_labels(project: Project) -> Iterator[Labelled]:
    """Dense masks that began as a model's prediction accepted by a person (with their
    corrections since)."""
    kept = object_classes(project)
    for image in _images(project):
        dense = selectors.dense_maps(image)
        if dense is None:
            continue
        head, classes, instances = dense
        provenance = selectors.dense_provenance(head)
        if not isinstance(provenance, dict) or provenance.get("source") != ACCEPTED_SOURCE:
            continue
        yield Labelled(
            image=image,
            classes=classes.astype(np.uint16),
            objects=objects_of(classes, instances, kept),
            layers=[[head.pk, head.version]],
            source={"labels": "accepted", "provenance": provenance},
        )


def predictions(project: Project, version: ModelVersion) -> Iterator[Labelled]:
    kept = object_classes(project)
    rows = (
        Prediction.objects.filter(model_version=version, image__archived_at__isnull=True)
        .select_related("image")
        .order_by("image__name", "image_id")
    )
    for prediction in rows.iterator(chunk_size=50):
        classes = labelmaps.decode_png_map(selectors.read_file(prediction.mask), what="prediction")
        instances = (
            decode_instances(selectors.read_file(prediction.instances)) if prediction.instances else None
        )
        yield Labelled(
            image=prediction.image,
            classes=classes.astype(np.uint16),
            objects=objects_of(classes, instances, kept),
            layers=[],
            source={"prediction": prediction.pk, "model_version": version.pk},
            table=prediction_measured(prediction).table,
        )


def _images(project: Project) -> Iterator[Image]:
    return selectors.images_of(project).order_by("name", "pk").iterator(chunk_size=50)
