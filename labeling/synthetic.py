"""Synthetic microscopy fields for the demo project and the tests: small, seeded, no downloads.

A field has round nuclei of varying size and brightness, a nucleus fluorescence channel (16-bit,
12-bit range, blurred, with noise), a brightfield channel (8-bit: uneven illumination, dark nuclei
with bright halos, texture), and the instance map of the nuclei as ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Field:
    brightfield: np.ndarray  # (h, w) uint8
    fluorescence: np.ndarray  # (h, w) uint16, values up to 4095
    instances: np.ndarray  # (h, w) uint16, 0 = background, 1..n = nuclei

    @property
    def mask(self) -> np.ndarray:
        """Binary nucleus mask (bool)."""
        return self.instances > 0


def synthetic_field(
    *, seed: int, height: int = 256, width: int = 256, nuclei: int = 12, radius: tuple[int, int] = (6, 14)
) -> Field:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    instances = np.zeros((height, width), dtype=np.uint16)
    brightness = np.zeros((height, width), dtype=np.float32)
    for label in range(1, nuclei + 1):
        r = rng.uniform(*radius)
        cy, cx = rng.uniform(r, height - r), rng.uniform(r, width - r)
        stretch = rng.uniform(0.7, 1.3)
        angle = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        inside = (u / (r * stretch)) ** 2 + (v * stretch / r) ** 2 <= 1.0
        free = inside & (instances == 0)
        instances[free] = label
        brightness[free] = rng.uniform(0.5, 1.0)
    fluorescence = ndimage.gaussian_filter(brightness, 1.5) * 3000 + 200
    fluorescence += rng.normal(0, 60, size=fluorescence.shape)
    illumination = 150 + 30 * np.sin(xx / width * np.pi) * np.cos(yy / height * np.pi / 2)
    texture = ndimage.gaussian_filter(rng.normal(0, 12, size=(height, width)), 2)
    mask = (instances > 0).astype(np.float32)
    halo = ndimage.gaussian_filter(mask, 3) - mask
    brightfield = illumination + texture - 55 * ndimage.gaussian_filter(mask, 1) + 60 * halo
    brightfield += rng.normal(0, 4, size=brightfield.shape)
    return Field(
        brightfield=np.clip(brightfield, 0, 255).astype(np.uint8),
        fluorescence=np.clip(fluorescence, 0, 4095).astype(np.uint16),
        instances=instances,
    )
