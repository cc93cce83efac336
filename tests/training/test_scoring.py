"""The prediction task, run in this process on a model version made here: it predicts each image
the way the version's run asked for, with or without test-time augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling import services
from labeling.labelmaps import decode_png_map
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from training.actors import predict_images
from training.ml.checkpoint import Checkpoint, checkpoint_bytes, cpu_state
from training.ml.config import TrainConfig
from training.ml.data import Sample
from training.ml.inference import predict
from training.ml.loop import Trainer
from training.models import ModelVersion, Prediction, TrainingRun
from training.predict.job import Selection, prediction_job_start
from training.runs.snapshot import image_input, to_label_indices

CPU = torch.device("cpu")
CLASSES = [1, 2]  # label-map values of background and nucleus
RANGES = [(0.0, 255.0)]


def briefly_trained_version(project, user, x: np.ndarray, mask: np.ndarray, *, augment: bool):
    """A version holding a network trained for a few steps: unsure enough near the nuclei's edges
    that its class map there depends on the image's orientation."""
    config = TrainConfig(
        in_channels=1, num_classes=2, patch_size=64, batch_size=4, steps=12, warmup_steps=2, seed=0
    )
    model = Trainer(config, train=[Sample(x, mask.astype(np.int64))], validation=[], device=CPU).fit().model
    weights = default_storage.save(
        "models/brief.pt", ContentFile(checkpoint_bytes(Checkpoint(config, cpu_state(model))))
    )
    run = TrainingRun.objects.create(project=project, created_by=user, state="succeeded")
    version = ModelVersion.objects.create(
        project=project,
        run=run,
        kind="segmentation",
        weights=weights,
        config={
            "classes": CLASSES,
            "channels": ["gray"],
            "ranges": RANGES,
            "test_time_augmentation": augment,
        },
    )
    return version, model.eval()


@pytest.mark.django_db
@pytest.mark.parametrize("augment", [False, True])
def test_images_are_scored_with_test_time_augmentation_when_the_version_asks_for_it(project, users, augment):
    field = synthetic_field(seed=3, height=96, width=80, nuclei=5)
    (image,) = services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[services.Upload("f.png", png_bytes(field.brightfield))],
    )
    x = image_input(image, ["gray"], RANGES)
    version, model = briefly_trained_version(project, users["owner"], x, field.mask, augment=augment)

    job = prediction_job_start(version=version, author=users["owner"], selection=Selection("all"))
    predict_images.fn(job.pk)

    stored = decode_png_map(
        Prediction.objects.get(model_version=version, image=image).mask.read(), what="mask"
    )
    expected = {
        way: to_label_indices(predict(model, x, device=CPU, augment=way).classes, CLASSES)
        for way in (False, True)
    }
    assert np.array_equal(stored, expected[augment])
    assert not np.array_equal(expected[True], expected[False])  # so the test tells the two apart
