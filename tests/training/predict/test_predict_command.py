"""`manage.py predict` on a folder: a label image per file with its stem, instance maps and one
measurements CSV; a file it cannot read is reported and the others are still predicted."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import tifffile
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image as PILImage

from .conftest import discs_png

pytestmark = pytest.mark.django_db


def predict(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("predict", *args, "--device", "cpu", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_folder_with_one_bad_file_gives_outputs_for_the_rest_and_says_which_failed(version, tmp_path):
    inputs, output = tmp_path / "plate", tmp_path / "results"
    inputs.mkdir()
    (inputs / "a1.png").write_bytes(discs_png(2))
    (inputs / "a2.png").write_bytes(discs_png(3))
    (inputs / "broken.tif").write_bytes(b"II*\x00 not really a TIFF")
    (inputs / "notes.txt").write_text("not an image")  # not an image file: not looked at

    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 3 files could not be predicted"):
        call_command(
            "predict",
            *("--model-version", str(version.pk), "--input", str(inputs), "--output", str(output)),
            *("--device", "cpu"),
            stdout=io.StringIO(),
            stderr=err,
        )
    assert "skipped broken.tif: the TIFF file holds no image" in err.getvalue()

    assert sorted(p.name for p in output.iterdir()) == [
        "a1.tif",
        "a1_instances.tif",
        "a2.tif",
        "a2_instances.tif",
        "measurements.csv",
    ]
    labels = tifffile.imread(output / "a1.tif")
    assert labels.shape == (64, 64) and set(np.unique(labels)) <= {1, 2}
    objects = sum(int(tifffile.imread(output / f"{stem}_instances.tif").max()) for stem in ("a1", "a2"))
    rows = list(csv.DictReader((output / "measurements.csv").open()))
    assert len(rows) == objects
    assert {row["image"] for row in rows} <= {"a1.png", "a2.png"}
    assert all(row["model_version"] == str(version.pk) for row in rows)
    header = (output / "measurements.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["image", "model_version", "label"] and header[-1] == "integrated_intensity_gray"


def test_png_output_and_a_pixel_size(version, tmp_path):
    inputs, output = tmp_path / "plate", tmp_path / "results"
    inputs.mkdir()
    (inputs / "b.png").write_bytes(discs_png(1))
    printed, _ = predict(
        *("--model-version", str(version.pk), "--input", str(inputs), "--output", str(output)),
        *("--format", "png", "--pixel-size", "0.65"),
    )
    assert "1 images" in printed
    with PILImage.open(output / "b.png") as label_image:
        assert label_image.size == (64, 64)
    assert (output / "b_instances.png").exists()


def test_a_missing_version_or_folder_is_refused(version, tmp_path):
    with pytest.raises(CommandError, match="no model version 999999 that predicts"):
        predict("--model-version", "999999", "--input", str(tmp_path), "--output", str(tmp_path / "o"))
    with pytest.raises(CommandError, match=r"holds no \.png"):
        predict("--model-version", str(version.pk), "--input", str(tmp_path), "--output", str(tmp_path / "o"))
