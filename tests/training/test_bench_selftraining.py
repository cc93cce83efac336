"""`python -m training.bench self-training --quick` on a tiny generated paired data set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.bench.__main__ import main
from training.bench.selftraining import pseudo_labels

COMMON = ["--input-channel", "brightfield", "--test-count", "2", "--quick"]


def test_each_seed_trains_a_control_then_one_model_per_round_on_its_calls(pairs, tmp_path):
    out = tmp_path / "self.json"
    arguments = ["--data", str(pairs), *COMMON, "--seeds", "3,5", "--rounds", "1"]
    assert main(["self-training", *arguments, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert [(run["seed"], run["round"]) for run in runs] == [(s, r) for s in (3, 5) for r in (0, 1)]
    for run in runs:
        assert all(0.0 <= run[key] <= 1.0 for key in ("pixel_f1", "iou", "object_f1"))
        assert run["train_images"] == 2 and run["labels"] == "dense"
        if run["round"] == 0:
            assert run["pseudo_labelled_images"] == 0 and "pseudo_unknown_fraction" not in run
        else:
            assert run["pseudo_labelled_images"] == 2
            assert len(run["pseudo_unknown_fraction"]) == 2
            assert all(0.0 <= f <= 1.0 for f in run["pseudo_unknown_fraction"])
    assert [entry["round"] for entry in result["summary"]] == [0, 1]
    assert result["summary"][1]["seeds"] == [3, 5]
    assert result["summary"][1]["pixel_f1"]["mean"] == pytest.approx(
        np.mean([run["pixel_f1"] for run in runs if run["round"] == 1]), abs=1e-4
    )
    config = result["config"]
    assert config["transductive"] is True and config["confidence"] == [0.2, 0.8] and config["rounds"] == 1
    assert config["test"] == ["p2", "p3"]

    # Round 0 is the control: the very run label-efficiency makes on all training images.
    control = tmp_path / "control.json"
    efficiency = ["label-efficiency", "--data", str(pairs), *COMMON, "--sizes", "2", "--seed", "3"]
    main([*efficiency, "--out", str(control)])
    [expected] = json.loads(control.read_text())["runs"]
    for key in ("pixel_f1", "iou", "object_f1", "per_image"):
        assert runs[0][key] == expected[key]


def test_pseudo_labels_keep_only_confident_calls():
    probability = np.array([[0.0, 0.2, 0.21], [0.5, 0.79, 0.8], [0.95, 1.0, 0.1]])
    assert pseudo_labels(probability, low=0.2, high=0.8).tolist() == [[0, 0, -1], [-1, -1, 1], [1, 1, 0]]


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--confidence", "0.8,0.2", "LOW < 0.5 < HIGH"),
        ("--confidence", "0.2", "LOW,HIGH"),
        ("--rounds", "0", "at least 1"),
    ],
)
def test_bad_options_stop_before_any_training(pairs, capsys, flag, value, message):
    with pytest.raises(SystemExit) as stopped:
        main(["self-training", "--data", str(pairs), *COMMON, flag, value])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
