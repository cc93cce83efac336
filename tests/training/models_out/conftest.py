"""A briefly trained model version of a project with one synthetic fluorescence field (96 x 96,
16-bit), and the helpers the models-out tests share."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from typing import Any

import numpy as np
import pytest
import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling import services
from labeling.models import Image, Project
from labeling.synthetic import synthetic_field
from tests.factories import png_bytes
from tests.versions import finished_run_version
from training.ml.checkpoint import Checkpoint, checkpoint_bytes, cpu_state
from training.ml.config import TrainConfig
from training.ml.data import Sample, normalize
from training.ml.loop import Trainer
from training.models import ModelVersion
from training.models_out import network, package
from training.runs.spec import RunSpec

CPU = torch.device("cpu")
SIZE = 96  # a multiple of 32 above the tiles' overlap (64): one tile covers the field
RANGES = [(200.0, 2600.0)]  # the field's background to bright nuclei, as a run would measure them


def field_pixels() -> np.ndarray:
    """The field's fluorescence as uint16. Shape: (SIZE, SIZE)."""
    field = synthetic_field(seed=5, height=SIZE, width=SIZE, nuclei=4)
    return np.clip(field.fluorescence, 0, 65535).astype(np.uint16)


@lru_cache(maxsize=1)
def trained() -> Checkpoint:
    """A U-Net trained for a few steps on the field: sure of most pixels, unsure near edges."""
    field = synthetic_field(seed=5, height=SIZE, width=SIZE, nuclei=4)
    x = normalize(field_pixels()[None].astype(np.float32), ranges=RANGES)
    config = TrainConfig(
        in_channels=1, num_classes=2, patch_size=64, batch_size=4, steps=16, warmup_steps=2, seed=0
    )
    model = (
        Trainer(config, train=[Sample(x, field.mask.astype(np.int64))], validation=[], device=CPU).fit().model
    )
    return Checkpoint(config, cpu_state(model))


def add_field(project: Project, user: Any, name: str = "field.png") -> Image:
    (image,) = services.image_ingest(
        project=project, uploader=user, uploads=[services.Upload(name, png_bytes(field_pixels()))]
    )
    return image


def store_version(project: Project, user: Any, *, augment: bool = False) -> ModelVersion:
    """The trained network as a version of `project`, configured as a real run's version is."""
    checkpoint = trained()
    weights = default_storage.save("models/trained.pt", ContentFile(checkpoint_bytes(checkpoint)))
    spec = RunSpec(
        train=checkpoint.config,
        channels=("gray",),
        classes=(1, 2),
        label_sources=("scribble", "dense"),
        test_time_augmentation=augment,
    )
    metrics = {"validation": {"pixel_f1": 0.5}}
    return finished_run_version(project, user, spec, weights=weights, ranges=RANGES, metrics=metrics)


@pytest.fixture
def version(project: Project, users: dict[str, Any]) -> ModelVersion:
    add_field(project, users["owner"])
    return store_version(project, users["owner"])


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name) for name in package.namelist()}


def npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


@lru_cache(maxsize=1)
def package_bytes() -> bytes:
    """A package as Lesslabel writes it for the trained version of a project "Nuclei" with the
    classes background (1) and nucleus (2), built without a database (for the refusal tests)."""
    checkpoint = trained()
    spec = RunSpec(train=checkpoint.config, channels=("gray",), classes=(1, 2), label_sources=("dense",))
    description = {
        "format": package.DESCRIPTION_FORMAT,
        "classes": [{"index": 1, "name": "background"}, {"index": 2, "name": "nucleus"}],
        "channels": ["gray"],
        "ranges": [list(pair) for pair in RANGES],
        "test_time_augmentation": False,
        "config": spec.to_json(),
        "provenance": {
            "app": "lesslabel",
            "project": "Nuclei",
            "model_version": 1,
            "run": 1,
            "parent": None,
            "created_at": "2026-01-01T00:00:00+00:00",
            "created_by": "owner",
            "label_layers": 1,
            "metrics": {},
        },
    }
    raw = field_pixels()[None].astype(np.float32)
    x = normalize(raw, ranges=RANGES)
    model = network.probabilities_network(checkpoint, augment=False)
    with torch.no_grad():
        probabilities = model(torch.from_numpy(x[None])).numpy()
    return package.write_package(
        model,
        description=description,
        architecture=network.architecture_kwargs(checkpoint, augment=False),
        tensors=package.TestTensors(raw=raw[None], probabilities=probabilities),
        normalised=x[None],
        license_id="CC-BY-4.0",
    )
