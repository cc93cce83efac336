"""`python -m training.bench self-training --quick` on a tiny generated paired data set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.bench.cli import main, parser
from training.bench.common import load_split, normalizer, train_config, training_target
from training.bench.selftraining import pseudo_labels, round_run
from training.ml.data import Sample
from training.ml.loop import choose_device

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


def test_a_round_learns_from_the_pseudo_labels_it_is_given(pairs):
    # Same seed, same training labels: only the test images' pseudo-labels differ, so a round
    # that dropped them would give both models the very same probabilities.
    args = parser().parse_args(["self-training", "--data", str(pairs), *COMMON])
    train, test = load_split(args)
    prepare = normalizer(args, train)
    samples = [Sample(prepare(item.image), training_target(item, args)) for item in train]
    images = [prepare(item.image) for item in test]
    config = train_config(args, in_channels=train[0].image.shape[0])

    def mean_object_probability(fill: int) -> float:
        pseudo = [np.full(image.shape[1:], fill, dtype=np.int64) for image in images]
        outcome = round_run(args, config, samples, images, test, pseudo, choose_device(), name=str(fill))
        assert outcome.run["pseudo_labelled_images"] == 2
        assert outcome.run["pseudo_unknown_fraction"] == [0.0, 0.0]
        return float(np.mean([p.mean() for p in outcome.probabilities]))

    # Measured: about 0.50 against 0.10; 0.15 for both when the pseudo-labels are dropped.
    assert mean_object_probability(1) > mean_object_probability(0) + 0.1
