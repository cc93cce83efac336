"""app-parity --quick: the real app (daphne, a worker, the REST API) beside the bench, on tiny data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from PIL import Image as PILImage

from labeling.synthetic import synthetic_field
from training.bench.parity import summary


@pytest.fixture
def data(tmp_path):
    """Four 96 px fields in the images/ + labels/ layout (16-bit instance maps)."""
    root = tmp_path / "set"
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
    for n in range(4):
        field = synthetic_field(seed=n, height=96, width=96, nuclei=5)
        PILImage.fromarray(field.fluorescence).save(root / "images" / f"f{n}.png")
        PILImage.fromarray(field.instances).save(root / "labels" / f"f{n}.png")
    return root


def app_parity(data, out, *extra):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    command = [sys.executable, "-m", "training.bench", "app-parity", "--data", str(data), "--out", str(out)]
    return subprocess.run(
        [*command, *extra], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_the_app_and_the_bench_train_on_the_same_images_and_score_the_same_test_images(data, tmp_path):
    out = tmp_path / "parity.json"
    # One seed and one size: the machine CI shares runs a worker, daphne and two trainings slowly.
    finished = app_parity(data, out, "--quick", "--test-count", "2", "--sizes", "2")
    assert finished.returncode == 0, finished.stderr[-4000:]
    result = json.loads(out.read_text())

    (pair,) = result["pairs"]
    app, bench = pair["app"], pair["bench"]
    assert (pair["train_images"], pair["seed"]) == (2, 0)
    assert app["trained_on"] == bench["trained_on"] == ["f0", "f1"]
    assert app["validated_on"] == result["config"]["test"] == ["f2", "f3"]
    assert [i["name"] for i in app["per_image"]] == [i["name"] for i in bench["per_image"]] == ["f2", "f3"]
    for side in (app, bench):
        assert 0.0 <= side["pixel_f1"] <= 1.0 and 0.0 <= side["object_f1"] <= 1.0
    # The app makes objects as the bench does (separate_instances of the object class).
    assert app["object_f1_of_app_instances"] == pytest.approx(app["object_f1"])
    assert 0.0 <= app["validation_pixel_f1"] <= 1.0 and app["epochs"] == 2
    # Every TrainConfig field the bench sets reaches the app's run unchanged.
    assert pair["config_differences"] == {}
    (summary,) = result["summary"]
    assert summary["pixel_f1"]["difference"] == pytest.approx(app["pixel_f1"] - bench["pixel_f1"], abs=2e-4)
    # The same seed trains the same network on both sides: the same patches, the same steps. On
    # this machine the scores come out identical; the tolerance only allows for float reductions
    # that a worker's thread count may order differently.
    assert abs(summary["pixel_f1"]["difference"]) <= 0.02, summary
    assert "incomplete" not in result


def pair(seed, app, bench):
    """A (k = 4, seed) pair with these (pixel F1, object F1) on each side."""
    scores = {
        side: dict(zip(("pixel_f1", "object_f1"), values, strict=True))
        for side, values in (("app", app), ("bench", bench))
    }
    return {"train_images": 4, "seed": seed, **scores}


def test_a_difference_no_larger_than_the_seeds_spread_is_within_it():
    result = summary([pair(0, (0.80, 0.70), (0.82, 0.71)), pair(1, (0.90, 0.72), (0.86, 0.73))])
    assert result["seeds"] == [0, 1]
    # app 0.85 +- 0.0707, bench 0.84 +- 0.0283: 0.01 apart.
    assert result["pixel_f1"] == {
        "app": {"mean": 0.85, "sd": 0.0707},
        "bench": {"mean": 0.84, "sd": 0.0283},
        "difference": 0.01,
        "within_spread": True,
    }
    assert result["verdict"] == "within spread"


def test_a_difference_beyond_both_sides_spread_is_reported_as_such():
    result = summary([pair(0, (0.80, 0.70), (0.90, 0.71)), pair(1, (0.81, 0.72), (0.91, 0.73))])
    # pixel F1: 0.805 against 0.905, each +- 0.0071.
    assert result["pixel_f1"]["difference"] == -0.1 and result["pixel_f1"]["within_spread"] is False
    assert result["object_f1"]["within_spread"] is True
    assert result["verdict"] == "beyond spread"


def test_it_refuses_scribbles_which_the_app_cannot_be_given(data, tmp_path):
    finished = app_parity(data, tmp_path / "no.json", "--quick", "--labels", "scribbles")
    assert finished.returncode != 0
    assert "the app's scribbles are strokes drawn in the browser" in finished.stderr
    assert not (tmp_path / "no.json").exists()


@pytest.mark.slow
def test_the_teacher_s_pseudo_masks_train_both_sides_alike(pairs, tmp_path):
    """--labels teacher: the app's teacher job and the bench's pipeline make the same pseudo-masks
    of the training fields, and the app's brightfield run learns from them alone (derived labels)
    and is scored on the validation fields' masks."""
    out = tmp_path / "teacher.json"
    common = ["--quick", "--input-channel", "brightfield", "--test-count", "2", "--sizes", "2"]
    finished = app_parity(pairs, out, *common, "--labels", "teacher")
    assert finished.returncode == 0, finished.stderr[-4000:]
    result = json.loads(out.read_text())

    teacher = result["config"]["teacher"]
    assert teacher["channel"] == "fluorescence" and teacher["params"]["threshold"] == "local"
    # The same pipeline on the same stain files: the same pseudo-masks, pixel for pixel.
    assert teacher["pixels_alike"] == 1.0
    assert teacher["app_pseudo_masks"] == teacher["bench_pseudo_masks"]
    assert teacher["bench_pseudo_masks"]["pixel_f1"] > 0.8  # the generated stain is clean
    assert result["config"]["mapping"]["label_sources"] == ["derived"]

    (pair,) = result["pairs"]
    app, bench = pair["app"], pair["bench"]
    assert app["trained_on"] == bench["trained_on"] == ["p0", "p1"]
    assert app["validated_on"] == ["p2", "p3"], "a run on derived labels alone is scored on the masks"
    assert 0.0 <= app["validation_pixel_f1"] <= 1.0
    assert bench["labels"] == "fluorescence pseudo-masks"
    assert pair["config_differences"] == {}
    (summary,) = result["summary"]
    assert abs(summary["pixel_f1"]["difference"]) <= 0.02, summary


def test_one_seed_that_differs_has_no_spread_to_judge_by():
    result = summary([pair(0, (0.80, 0.70), (0.82, 0.71))])
    assert result["pixel_f1"]["app"]["sd"] is None and result["pixel_f1"]["within_spread"] is None
    assert result["verdict"] == "one seed: no spread to judge by (pass --seeds)"
