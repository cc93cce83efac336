"""Model versions predict: class maps and uncertainty for a project's images, stored as Predictions.

After a segmentation model version is made, every image of its project is scored in batches on
the gpu queue. Scoring is idempotent: an image the version already scored is skipped, and two
deliveries of one batch store one prediction per image (the second's files are removed).
"""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache

import numpy as np
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from labeling import imageio, labelmaps, selectors
from labeling.models import Image
from training.ml import checkpoint as ckpt
from training.ml.inference import predict
from training.ml.loop import choose_device
from training.ml.models import create_model
from training.models import ModelVersion, Prediction, StudyPoint
from training.runs.snapshot import image_input, to_label_indices
from training.runs.spec import VersionInputs
from webapp import events, live

log = logging.getLogger(__name__)


def images_to_score(version: ModelVersion) -> list[int]:
    """Every image of the project, for a new segmentation model; none for an encoder (it predicts
    nothing) or a study's point (measured on the validation split: scoring the whole project once
    per point would cost more than the study itself)."""
    if version.kind != "segmentation" or StudyPoint.objects.filter(run_id=version.run_id).exists():
        return []
    return list(selectors.images_of(version.project).order_by("name", "pk").values_list("pk", flat=True))


def score_images(model_version_id: int, image_ids: list[int]) -> None:
    """Predict class maps and uncertainty for images; skips those already scored by this version."""
    version = ModelVersion.objects.filter(pk=model_version_id).select_related("run").first()
    if version is None:
        log.info("model version %s is gone; nothing to score", model_version_id)
        return
    done = set(
        Prediction.objects.filter(model_version=version, image_id__in=image_ids).values_list(
            "image_id", flat=True
        )
    )
    todo = [image for image in selectors.live_images(image_ids) if image.pk not in done]
    if not todo:
        return
    inputs = VersionInputs.of(version.config)
    device = choose_device(settings.TRAIN_DEVICE)
    model = _model_of(version.pk, device.type)
    scored = []
    for image in todo:
        x = image_input(image, inputs.channels, inputs.ranges)
        result = predict(model, x, device=device, augment=inputs.test_time_augmentation)
        prediction = _store_prediction(
            version,
            image,
            to_label_indices(result.classes, inputs.classes),
            result.entropy,
            result.uncertainty,
        )
        scored.append(
            events.ScoredImage(
                image=image.pk,
                prediction=prediction.pk,
                uncertainty=prediction.uncertainty,
                mask_url=f"/api/predictions/{prediction.pk}/mask.png",
            )
        )
    live.publish(
        version.project_id,
        events.PredictionsReady(model_version=version.pk, run=version.run_id, predictions=scored),
    )
    live.flush()


def _store_prediction(
    version: ModelVersion, image: Image, label_map: np.ndarray, entropy: np.ndarray, uncertainty: float
) -> Prediction:
    stem = f"predictions/v{version.pk}/image-{image.pk}-{uuid.uuid4().hex[:8]}"
    mask = default_storage.save(f"{stem}.png", ContentFile(labelmaps.encode_map(label_map)))
    entropy_png = imageio.encode_png(np.clip(entropy * 255.0 + 0.5, 0, 255).astype(np.uint8))
    entropy_name = default_storage.save(f"{stem}-uncertainty.png", ContentFile(entropy_png))
    with transaction.atomic():
        prediction, created = Prediction.objects.get_or_create(
            model_version=version,
            image=image,
            defaults={"mask": mask, "uncertainty_map": entropy_name, "uncertainty": uncertainty},
        )
    if not created:  # another delivery of the same batch got there first
        default_storage.delete(mask)
        default_storage.delete(entropy_name)
    return prediction


def checkpoint_of(version: ModelVersion) -> ckpt.Checkpoint:
    return ckpt.checkpoint_from_bytes(
        selectors.read_file(version.weights), where=f"model version {version.pk}"
    )


@lru_cache(maxsize=2)
def _model_of(version_id: int, device_type: str) -> torch.nn.Module:
    """The network of a model version on a device, kept for the next batch of the same version."""
    saved = checkpoint_of(ModelVersion.objects.get(pk=version_id))
    model = create_model(saved.config)
    model.load_state_dict(saved.model_state)
    return model.to(torch.device(device_type)).eval()
