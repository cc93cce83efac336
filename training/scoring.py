"""Model versions predict: one image of a project through a version, stored as a Prediction.

Prediction jobs (training/predict/job.py) call `predict_image` for each image they hold; after
training, a job of every image of the project scores the new version. What an image gives (class
map, uncertainty, the objects of countable classes and their measurements) is made by
training/predict/pipeline.py.

Nothing half-written becomes visible: a prediction's files are written first, under fresh names,
and its row after them. A worker killed in between leaves unreferenced files and no row; two
deliveries of one image store one row (the unique constraint) and the second's files are removed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from functools import lru_cache

import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from labeling import selectors
from labeling.models import Image
from training.ml import checkpoint as ckpt
from training.ml.forest_model import forest_from_bytes
from training.ml.models import create_model
from training.models import ModelVersion, Prediction, StudyPoint, VersionKind
from training.predict import pipeline
from training.runs.spec import VersionInputs

log = logging.getLogger(__name__)


def images_to_score(version: ModelVersion) -> list[int]:
    """Every image of the project, for a new model that predicts (a network or a forest); none for
    an encoder (it predicts nothing) or a study's point (measured on the validation split: scoring
    the whole project once per point would cost more than the study itself)."""
    if not version.predicts or StudyPoint.objects.filter(run_id=version.run_id).exists():
        return []
    return list(selectors.images_of(version.project).order_by("name", "pk").values_list("pk", flat=True))


def context_of(version: ModelVersion) -> pipeline.Context:
    """How this version's predictions are made: its inputs, the project's countable classes, tiles."""
    return pipeline.Context(
        inputs=VersionInputs.of(version.config),
        countable=selectors.countable_classes(version.project),
        class_names=selectors.class_names(version.project),
        tile=settings.PREDICTION_TILE_SIZE,
        batch_size=settings.PREDICTION_TILE_BATCH,
        min_object_size=settings.PREDICTION_MIN_OBJECT_PIXELS,
    )


def predict_image(
    version: ModelVersion,
    image: Image,
    *,
    model: pipeline.Model,
    device: torch.device,
    context: pipeline.Context,
) -> Prediction:
    """Predict, count and measure one image and store it; ValueError (with what to do) for an image
    that cannot be read or lacks the version's channels."""
    planes = selectors.all_planes(image)
    result = pipeline.analyse(model, planes, context, device=device, pixel_size=selectors.pixel_size(image))
    return store_prediction(version, image, result, countable=bool(context.countable))


def store_prediction(
    version: ModelVersion, image: Image, result: pipeline.Result, *, countable: bool
) -> Prediction:
    """Files first (fresh names), then the row; the files of a second delivery are removed."""
    encoded = pipeline.encode(result, countable=countable)
    stem = f"predictions/v{version.pk}/image-{image.pk}-{uuid.uuid4().hex[:8]}"
    contents = {
        "mask": (f"{stem}.png", encoded.mask),
        "uncertainty_map": (f"{stem}-uncertainty.png", encoded.uncertainty),
        "measurements": (f"{stem}-measurements.json", encoded.measurements),
    }
    if encoded.instances is not None:
        contents["instances"] = (f"{stem}-instances{encoded.instances_suffix}", encoded.instances)
    files: dict[str, str] = {}
    try:
        for field, (name, content) in contents.items():
            files[field] = default_storage.save(name, ContentFile(content))
    except Exception:  # the storage went away half-way: no file of a prediction without its row
        _delete_quietly(files.values())
        raise
    counts = {str(index): count for index, count in result.objects.counts.items()}
    with transaction.atomic():
        prediction, created = Prediction.objects.get_or_create(
            model_version=version,
            image=image,
            defaults={**files, "uncertainty": result.uncertainty, "counts": counts},
        )
    if not created:  # another delivery of the same image got there first
        _delete_quietly(files.values())
    return prediction


def _delete_quietly(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # left for sweep_orphans, which removes files no row names
            log.warning("could not remove %s; sweep_orphans will", name, exc_info=True)


def checkpoint_of(version: ModelVersion) -> ckpt.Checkpoint:
    return ckpt.checkpoint_from_bytes(
        selectors.read_file(version.weights), where=f"model version {version.pk}"
    )


@lru_cache(maxsize=2)
def model_of(version_id: int, device_type: str) -> pipeline.Model:
    """The model of a version, kept for the next job of the same version: a network on a device,
    or a random forest (kind "forest", which predicts on the CPU)."""
    version = ModelVersion.objects.get(pk=version_id)
    if version.kind == VersionKind.FOREST:
        return forest_from_bytes(selectors.read_file(version.weights), where=f"model version {version.pk}")
    saved = checkpoint_of(version)
    model = create_model(saved.config)
    model.load_state_dict(saved.model_state)
    return model.to(torch.device(device_type)).eval()
