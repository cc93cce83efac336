"""Images of discs and predictions of them made in this process, with a "network" that thresholds
the image, so that every count and measurement is known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from labeling import services
from labeling.models import Image, Project
from tests.factories import png_bytes
from tests.versions import random_version
from training import scoring
from training.models import ModelVersion, Prediction


class Threshold(nn.Module):
    """Class 1 wherever the normalised input is above one half, class 0 elsewhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([10 - 20 * x, 20 * x - 10], dim=1)


def discs_png(count: int, size: int = 64) -> bytes:
    """`count` bright discs of radius 5 on a dark field, one row of them."""
    image = np.zeros((size, size), dtype=np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for n in range(count):
        image[(yy - 16) ** 2 + (xx - (8 + 14 * n)) ** 2 <= 25] = 255
    return png_bytes(image)


def add_images(
    project: Project, user: Any, counts: list[int], *, split: str = "unassigned", prefix: str = "d"
) -> list[Image]:
    """One image per entry of `counts`, with that many discs, named d0, d1, ... (`prefix`)."""
    images = []
    for n, count in enumerate(counts):
        (image,) = services.image_ingest(
            project=project,
            uploader=user,
            uploads=[services.Upload(f"{prefix}{n}.png", discs_png(count))],
            split=split,
        )
        images.append(image)
    return images


def threshold_prediction(version: ModelVersion, image: Image) -> Prediction:
    """What a prediction job stores, with the thresholding network in place of the version's."""
    context = scoring.context_of(version)
    return scoring.predict_image(
        version, image, model=Threshold(), device=torch.device("cpu"), context=context
    )


@pytest.fixture
def version(project: Project, users: dict[str, Any]) -> ModelVersion:
    return random_version(project, users["owner"])
