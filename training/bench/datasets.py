"""Benchmark data in the conventions of ../shared/data/README.md, read straight from disk.

- DIR/images/*.{png,tif} + DIR/labels/<stem>.png (instance maps), or
- DIR/<input-channel>/NAME.png + DIR/nuclei/NAME.png (binary masks; instances by components).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image as PILImage
from scipy import ndimage

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


@dataclass(frozen=True)
class Item:
    name: str
    image: np.ndarray  # (C, H, W) raw pixels
    instances: np.ndarray  # (H, W) 0 = background, 1..N objects

    @property
    def classes(self) -> np.ndarray:
        """Class map: 0 background, 1 object. Shape (H, W) int64."""
        return (self.instances > 0).astype(np.int64)


def read_array(path: Path) -> np.ndarray:
    if path.suffix.lower() in (".tif", ".tiff"):
        return np.asarray(tifffile.imread(path))
    with PILImage.open(path) as opened:
        image: PILImage.Image = opened
        if image.mode in ("P", "RGB", "RGBA", "LA"):
            image = image.convert("L")
        return np.asarray(image)


def load_folder(root: Path, *, input_channel: str | None = None) -> list[Item]:
    """All items of a data set folder, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    if (root / "images").is_dir() and (root / "labels").is_dir():
        return _images_and_labels(root)
    channel = input_channel or "brightfield"
    if (root / channel).is_dir() and (root / "nuclei").is_dir():
        return _channel_and_nuclei(root, channel)
    raise ValueError(
        f"{root} has neither images/ + labels/ nor {channel}/ + nuclei/ (see ../shared/data/README.md); "
        "pass --input-channel for another channel folder"
    )


def _images_and_labels(root: Path) -> list[Item]:
    items = []
    for path in sorted(p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label_path = root / "labels" / f"{path.stem}.png"
        if not label_path.exists():
            continue
        image = read_array(path)
        items.append(Item(path.stem, image[None] if image.ndim == 2 else image, read_array(label_path)))
    return items


def _channel_and_nuclei(root: Path, channel: str) -> list[Item]:
    items = []
    for path in sorted((root / channel).glob("*.png")):
        mask_path = root / "nuclei" / path.name
        if not mask_path.exists():
            continue
        instances, _ = ndimage.label(read_array(mask_path) > 0)
        items.append(Item(path.stem, read_array(path)[None], instances.astype(np.int32)))
    return items


def split(items: list[Item], *, test_count: int) -> tuple[list[Item], list[Item]]:
    """First items by name for training, the last `test_count` for testing."""
    if not 0 < test_count < len(items):
        raise ValueError(
            f"--test-count {test_count}: give 1 to {len(items) - 1}, so that both test and training "
            f"images are left ({len(items)} in all)"
        )
    return items[:-test_count], items[-test_count:]
