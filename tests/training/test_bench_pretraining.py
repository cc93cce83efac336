"""`python -m training.bench pretraining --quick` on a tiny generated paired data set."""

from __future__ import annotations

import json

import pytest

from training.bench.cli import main
from training.bench.pretraining import gains
from training.bench.seeds import spread_by


@pytest.mark.parametrize("task", ["masked", "fluorescence"])
def test_quick_run_writes_both_curves_on_the_same_split(pairs, tmp_path, task):
    out = tmp_path / "pretraining.json"
    common = ["--data", str(pairs), "--input-channel", "brightfield", "--test-count", "2", "--quick"]
    assert main(["pretraining", *common, "--task", task, "--sizes", "1,2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    for curve in ("with", "without"):
        runs = result[curve]["runs"]
        assert [run["train_images"] for run in runs] == [1, 2]
        assert all(0.0 <= run[key] <= 1.0 for run in runs for key in ("pixel_f1", "iou", "object_f1"))
    pretraining = result["pretraining"]
    # Pretrained on the training pool only, never on the test fields.
    assert pretraining["images"] == ["p0", "p1"] and result["config"]["test"] == ["p2", "p3"]
    assert pretraining["task"] == task and pretraining["steps"] == 20
    assert pretraining["last_loss"] < pretraining["first_loss"]
    # Without --finetune-learning-rate both curves train alike.
    assert {run["learning_rate"] for curve in ("with", "without") for run in result[curve]["runs"]} == {2e-3}


def test_fine_tuning_can_take_its_own_learning_rate_and_keep_the_pretrained_encoder(pairs, tmp_path):
    out = tmp_path / "pretraining.json"
    common = ["--data", str(pairs), "--input-channel", "brightfield", "--test-count", "2", "--quick"]
    argv = [
        "pretraining",
        *common,
        "--task",
        "fluorescence",
        "--sizes",
        "1",
        "--finetune-learning-rate",
        "5e-4",
        "--freeze-encoder",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    pretrained, scratch = result["with"]["runs"][0], result["without"]["runs"][0]
    assert (pretrained["learning_rate"], pretrained["freeze_encoder"]) == (5e-4, True)
    assert (scratch["learning_rate"], scratch["freeze_encoder"]) == (2e-3, False)  # nothing to keep
    assert result["config"]["learning_rate"] == 2e-3


def test_the_fluorescence_task_needs_the_paired_channel(pairs, tmp_path):
    common = ["--data", str(pairs), "--input-channel", "brightfield", "--test-count", "2", "--quick"]
    with pytest.raises(SystemExit, match="neither"):
        main(["pretraining", *common, "--task", "fluorescence", "--target-channel", "phase"])


def test_the_masked_task_can_also_pretrain_on_the_test_images_input(pairs, tmp_path):
    out = tmp_path / "pretraining.json"
    common = ["--data", str(pairs), "--input-channel", "brightfield", "--test-count", "2", "--quick"]
    argv = ["pretraining", *common, "--task", "masked", "--sizes", "1", "--pretrain-images", "all"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["pretraining"]["images"] == ["p0", "p1", "p2", "p3"]
    assert result["config"]["test"] == ["p2", "p3"]


def test_the_fluorescence_task_never_reads_the_test_images_stain(pairs, tmp_path):
    common = ["--data", str(pairs), "--input-channel", "brightfield", "--test-count", "2", "--quick"]
    with pytest.raises(SystemExit, match="masked task"):
        main(["pretraining", *common, "--task", "fluorescence", "--pretrain-images", "all"])


def test_the_gain_of_each_seed_is_its_pretrained_run_minus_its_run_from_scratch():
    def run(seed, k, pixel_f1):
        return {"train_images": k, "seed": seed, "pixel_f1": pixel_f1, "iou": 0.5, "object_f1": 0.25}

    with_ = [run(0, 1, 0.30), run(0, 4, 0.40), run(1, 1, 0.20), run(1, 4, 0.50)]
    without = [run(0, 1, 0.10), run(0, 4, 0.35), run(1, 1, 0.20), run(1, 4, 0.30)]
    one, four = spread_by(gains(with_, without), "train_images")
    assert one["pixel_f1"]["values"] == [0.2, 0.0] and one["pixel_f1"]["mean"] == 0.1
    assert four["pixel_f1"]["values"] == [0.05, 0.2] and four["pixel_f1"]["min"] == 0.05
    assert four["iou"]["mean"] == 0.0 and four["seeds"] == [0, 1]
