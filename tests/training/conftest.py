"""Generated data sets in the layout of ../shared/data, for the benchmark CLI's quick runs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from labeling.synthetic import synthetic_field


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """brightfield/ + fluorescence/ + nuclei/ (0/255), as ../shared/data/aisegcell is laid out."""
    root = tmp_path_factory.mktemp("pairs")
    for sub in ("brightfield", "fluorescence", "nuclei"):
        (root / sub).mkdir()
    for n in range(4):
        field = synthetic_field(seed=n, height=96, width=96, nuclei=5)
        PILImage.fromarray(field.brightfield).save(root / "brightfield" / f"p{n}.png")
        PILImage.fromarray(field.fluorescence).save(root / "fluorescence" / f"p{n}.png")
        PILImage.fromarray((field.mask * 255).astype(np.uint8)).save(root / "nuclei" / f"p{n}.png")
    return root
