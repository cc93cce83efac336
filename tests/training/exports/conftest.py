"""A labelled project to export: images of discs (tests/training/predict/conftest.py), one with an
imported instance mask, one with a dense mask and a scribble over it, one unlabelled."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from scipy import ndimage

from labeling import services
from labeling.models import Image, Project
from tests.factories import tiff_bytes
from tests.training.predict.conftest import add_images, discs_png
from tests.versions import random_version
from training.models import ModelVersion


@dataclass(frozen=True)
class Labelled:
    project: Project
    images: list[Image]


def disc_instances(count: int, size: int = 64) -> np.ndarray:
    """The discs of `discs_png(count)` numbered 1..count. Shape: (size, size) uint16."""
    pixels = np.asarray(PILImage.open(io.BytesIO(discs_png(count, size))))
    return ndimage.label(pixels > 0)[0].astype(np.uint16)


@pytest.fixture
def labelled(project: Project, users: dict[str, Any]) -> Labelled:
    owner = users["owner"]
    images = add_images(project, owner, [2, 3, 1])
    services.annotations_import(
        project=project,
        author=owner,
        files=[
            services.Upload("d0.tif", tiff_bytes(disc_instances(2))),
            services.Upload("d1.tif", tiff_bytes(disc_instances(3))),
        ],
        options=services.ImportOptions(label_images="instances", class_name="nucleus"),
    )
    stroke = {"class_index": 2, "radius": 2.0, "points": [[40, 50], [55, 50]]}
    services.annotation_save(
        image=images[1],
        author=users["annotator"],
        kind="scribble",
        base_version=0,
        data={"strokes": [stroke]},
    )
    return Labelled(project, images)


@pytest.fixture
def version(project: Project, users: dict[str, Any]) -> ModelVersion:
    return random_version(project, users["owner"])


def unzip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        assert zipped.testzip() is None
        return {name: zipped.read(name) for name in zipped.namelist()}
