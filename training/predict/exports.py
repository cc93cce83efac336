"""Measurements out: one row per object, as JSON or CSV, per prediction, per project (streamed,
with the image's name and the model version on every row) and per human dense mask.

A prediction's rows were measured when it was made (training/predict/pipeline.py) and are read
back from its file; a dense mask's are measured when asked for, with the same functions, from the
instance map it was imported with (while no stroke changed it) or split as predictions are, so a
lab can set its own counts beside the model's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import Image, Project
from training.ml.measure import SHAPE_COLUMNS, Objects, Table, count_objects, measure, objects_of_instances
from training.models import PREDICTING_KINDS, ModelVersion, Prediction
from training.predict.pipeline import csv_lines, table_from_json

PROJECT_COLUMNS = ("image", "model_version")


@dataclass(frozen=True)
class Measured:
    """The objects of one image as the API shows them."""

    counts: dict[str, int]  # class index (as text) -> objects
    table: Table

    def objects(self, **context: Any) -> list[dict[str, Any]]:
        return [{**context, **dict(zip(self.table.columns, row, strict=True))} for row in self.table.rows]


def prediction_measured(prediction: Prediction) -> Measured:
    if not prediction.measurements:
        return Measured(counts=dict(prediction.counts), table=Table(list(SHAPE_COLUMNS), []))
    return Measured(
        counts=dict(prediction.counts), table=table_from_json(selectors.read_file(prediction.measurements))
    )


def dense_measured(image: Image) -> Measured:
    """The objects of the image's dense mask; 400 (with what to do) when it has none."""
    found = selectors.dense_maps(image)
    if found is None:
        raise InvalidInput("This image has no dense mask; paint or import one, or accept a prediction.")
    _, label_map, instances = found
    countable = selectors.countable_classes(image.project)
    objects: Objects
    if instances is not None:
        objects = objects_of_instances(instances, label_map, countable)
    else:
        objects = count_objects(label_map, countable, min_size=settings.PREDICTION_MIN_OBJECT_PIXELS)
    table = measure(
        objects,
        selectors.all_planes(image),
        class_names=selectors.class_names(image.project),
        pixel_size=selectors.pixel_size(image),
    )
    return Measured(counts={str(index): count for index, count in objects.counts.items()}, table=table)


def as_csv(measured: Measured, **context: Any) -> str:
    columns = [*context, *measured.table.columns]
    return "".join(csv_lines(columns, measured.objects(**context)))


# Per project ---------------------------------------------------------------------------------


def project_version(project: Project, version_id: int | None) -> ModelVersion:
    """The version asked for (400 unless one of the project's), else the newest that predicted."""
    versions = project.model_versions.filter(kind__in=PREDICTING_KINDS)
    if version_id is not None:
        found = versions.filter(pk=version_id).first()
        if found is None:
            raise InvalidInput(
                f"Model version {version_id} is not a model of this project that predicts masks."
            )
        return found
    found = versions.filter(predictions__isnull=False).distinct().first()
    if found is None:
        raise InvalidInput("No model version has predicted an image of this project yet.")
    return found


def project_columns(project: Project) -> list[str]:
    """Every column a project's rows may have: the intensity columns of every channel name its
    images use, in the order they first appear."""
    ids = selectors.images_of(project).order_by("name", "pk").values_list("pk", flat=True)
    names = dict.fromkeys(name for channels in selectors.channel_names(ids).values() for name in channels)
    intensity = [f"{kind}_intensity_{name}" for name in names for kind in ("mean", "integrated")]
    return [*PROJECT_COLUMNS, *SHAPE_COLUMNS, *intensity]


def project_rows(project: Project, version: ModelVersion) -> Iterator[dict[str, Any]]:
    """One row per object of the version's predictions of the project's live images, by image name."""
    predictions = (
        Prediction.objects.filter(model_version=version, image__archived_at__isnull=True)
        .select_related("image")
        .order_by("image__name", "image_id")
    )
    for prediction in predictions.iterator(chunk_size=100):
        measured = prediction_measured(prediction)
        yield from measured.objects(image=prediction.image.name, model_version=version.pk)


def project_csv(project: Project, version: ModelVersion) -> Iterator[str]:
    return csv_lines(project_columns(project), project_rows(project, version))


def project_json(project: Project, version: ModelVersion) -> Iterator[str]:
    """{"model_version", "columns", "objects": [...]}, written object by object."""
    head = {"project": project.pk, "model_version": version.pk, "columns": project_columns(project)}
    yield json.dumps(head)[:-1] + ', "objects": ['
    for number, row in enumerate(project_rows(project, version)):
        yield ("," if number else "") + json.dumps(row)
    yield "]}"
