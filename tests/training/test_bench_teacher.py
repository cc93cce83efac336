"""`python -m training.bench fluorescence-teacher --quick` on a tiny generated paired data set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.bench import teacher
from training.bench.cli import main, parser
from training.bench.datasets import load_folder
from training.bench.teacher import mixed_models

SCORES = {"pixel_f1", "iou", "object_f1", "pixel_precision", "pixel_recall", "per_image"}
RUN = SCORES | {"train_images", "labels", "train_seconds", "peak_rss_mb", "seed"}
COMMON = ["--input-channel", "brightfield", "--test-count", "2", "--quick"]


def test_quick_run_writes_teacher_and_ground_truth_scores(pairs, tmp_path):
    out = tmp_path / "teacher.json"
    common = ["--data", str(pairs), *COMMON]
    assert main(["fluorescence-teacher", *common, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    # The generated stain is clean: the teacher's masks match the nuclei they were drawn from.
    assert result["pseudo_masks"]["pixel_f1"] > 0.8
    for name, labels in (("teacher", "fluorescence pseudo-masks"), ("ground_truth", "dense")):
        assert set(result[name]) == RUN
        assert all(0.0 <= result[name][key] <= 1.0 for key in ("pixel_f1", "iou", "object_f1"))
        assert result[name]["labels"] == labels and result[name]["seed"] == 0
    config = result["config"]
    assert config["train_pool"] == ["p0", "p1"] and config["test"] == ["p2", "p3"]
    assert config["teacher_channel"] == "fluorescence" and config["teacher_params"]["threshold"] == "local"

    # An earlier dense run made with another config is not passed off as this one's ground truth;
    # the check comes before any training.
    earlier = {"runs": [{**result["ground_truth"], "train_images": 2, "labels": "dense"}]}
    earlier["config"] = {**config, "learning_rate": config["learning_rate"] * 2}
    (tmp_path / "earlier.json").write_text(json.dumps(earlier))
    with pytest.raises(SystemExit, match="made with other learning_rate"):
        main(["fluorescence-teacher", *common, "--ground-truth-from", str(tmp_path / "earlier.json")])

    # Results from before test-time augmentation existed were predicted without it.
    assert config["test_time_augmentation"] is False
    older = {key: value for key, value in config.items() if key != "test_time_augmentation"}
    (tmp_path / "older.json").write_text(json.dumps({**earlier, "config": older}))
    reuse = ["--ground-truth-from", str(tmp_path / "older.json")]
    with pytest.raises(SystemExit, match="made with other test_time_augmentation"):
        main(["fluorescence-teacher", *common, *reuse, "--test-time-augmentation"])


def test_bad_teacher_params_stop_before_any_training(pairs):
    with pytest.raises(SystemExit, match="sigma"):
        main(
            [
                "fluorescence-teacher",
                "--data",
                str(pairs),
                "--test-count",
                "2",
                "--teacher-params",
                '{"sigma": -1}',
            ]
        )


def test_seeds_train_each_model_once_per_seed_and_report_spread_and_ensemble(pairs, tmp_path):
    out = tmp_path / "seeds.json"
    assert (
        main(["fluorescence-teacher", "--data", str(pairs), *COMMON, "--seeds", "3,5", "--out", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    for name in ("teacher", "ground_truth"):
        runs = result[f"{name}_runs"]
        assert [run["seed"] for run in runs] == [3, 5] and all(set(run) == RUN for run in runs)
        ensemble, summary = result[name], result[f"{name}_summary"]
        assert ensemble["ensemble_of_seeds"] == [3, 5]
        assert ensemble["train_seconds"] == pytest.approx(sum(run["train_seconds"] for run in runs), abs=0.2)
        scores = [run["pixel_f1"] for run in runs]
        assert summary["pixel_f1"]["mean"] == pytest.approx(sum(scores) / 2, abs=1e-4)
        assert summary["pixel_f1"]["ensemble"] == pytest.approx(ensemble["pixel_f1"], abs=1e-4)
    assert result["teacher"]["labels"] == "fluorescence pseudo-masks"


def test_seeds_reuse_the_ground_truth_runs_an_earlier_result_has_and_train_the_rest(pairs, tmp_path):
    common = ["--data", str(pairs), *COMMON]
    earlier = tmp_path / "earlier.json"
    main(["label-efficiency", *common, "--sizes", "2", "--seeds", "3,4", "--out", str(earlier)])
    measured_elsewhere = json.loads(earlier.read_text())
    measured_elsewhere["config"]["machine"] = "x86_64, another processor (AVX2 kernels), 2 cores, CPU"
    earlier.write_text(json.dumps(measured_elsewhere))
    out = tmp_path / "reused.json"
    reuse = ["--seeds", "3,5", "--ground-truth-from"]
    assert main(["fluorescence-teacher", *common, *reuse, str(earlier), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    measured = json.loads(earlier.read_text())["runs"][0]
    first, second = result["ground_truth_runs"]
    assert (first["seed"], first["reused_from"]) == (3, str(earlier))
    assert first["pixel_f1"] == measured["pixel_f1"] and first["per_image"] == measured["per_image"]
    assert second["seed"] == 5 and set(second) == RUN  # trained here: the file has no seed 5
    summary = result["ground_truth_summary"]
    assert summary["seeds"] == [3, 5] and summary["pixel_f1"]["ensemble"] is None
    mean = (first["pixel_f1"] + second["pixel_f1"]) / 2
    assert summary["pixel_f1"]["mean"] == pytest.approx(mean, abs=1e-4)
    assert "ground_truth" not in result  # a file keeps no probabilities to ensemble
    assert result["teacher"]["ensemble_of_seeds"] == [3, 5]

    # A teacher result serves as well; a run it reused keeps the file it was measured in.
    again = tmp_path / "again.json"
    assert main(["fluorescence-teacher", *common, *reuse, str(out), "--out", str(again)]) == 0
    first, second = json.loads(again.read_text())["ground_truth_runs"]
    assert first["reused_from"] == str(earlier) and second["reused_from"] == str(out)
    assert first["measured_on"] == "x86_64, another processor (AVX2 kernels), 2 cores, CPU"
    assert second["measured_on"] == json.loads(out.read_text())["config"]["machine"]
    assert second["pixel_f1"] == result["ground_truth_runs"][1]["pixel_f1"]

    with pytest.raises(SystemExit, match="no dense run on all 2 images with seed 7"):
        main(["fluorescence-teacher", *common, "--seed", "7", "--ground-truth-from", str(earlier)])


def test_scribbles_and_teacher_keep_every_scribbled_pixel_and_fill_the_rest_at_the_derived_weight(pairs):
    args = parser().parse_args(["fluorescence-teacher", "--data", str(pairs), "--quick"])
    (item,) = load_folder(pairs, input_channel="brightfield")[:1]
    pseudo = np.zeros_like(item.classes)  # a teacher that finds nothing
    models = mixed_models(args, [item], [pseudo], budget=0.05)
    ((scribbles, none),) = models["scribbles"].targets
    ((mixed, weight),) = models["scribbles_and_teacher"].targets
    scribbled = scribbles >= 0
    assert none is None and 0 < scribbled.mean() <= 0.05 + 0.01
    about = {"scribble_budget": 0.05, "scribbled_fraction": round(scribbled.mean(), 5)}
    assert models["scribbles"].about == models["scribbles_and_teacher"].about == about
    assert (scribbles[scribbled] == 1).any()  # strokes on nuclei, which the teacher missed
    assert np.array_equal(mixed[scribbled], scribbles[scribbled]) and (weight[scribbled] == 1.0).all()
    assert (mixed[~scribbled] == 0).all() and np.allclose(weight[~scribbled], 0.5)


def test_scribbles_with_budgets_train_both_scribble_models_once_per_budget(pairs, tmp_path):
    out = tmp_path / "budgets.json"
    scribbles = ["--scribbles", "0.01,0.05", "--out", str(out)]
    assert main(["fluorescence-teacher", "--data", str(pairs), *COMMON, *scribbles]) == 0
    result = json.loads(out.read_text())
    fractions = {}
    for budget in (0.01, 0.05):
        for model in ("scribbles", "scribbles_and_teacher"):
            run = result[f"{model}_{budget:g}"]
            assert run["scribble_budget"] == budget and 0 < run["scribbled_fraction"] <= budget + 0.01
            fractions.setdefault(budget, set()).add(run["scribbled_fraction"])
    # Both models of a budget learn from the same strokes; a smaller budget draws fewer.
    ((fewer,), (more,)) = fractions[0.01], fractions[0.05]
    assert fewer < more
    assert "scribbles" not in result


@pytest.mark.parametrize("budgets", ["0,0.05", "0.05,0.05", "1.5", "some"])
def test_scribble_budgets_must_be_distinct_fractions(pairs, budgets, capsys):
    with pytest.raises(SystemExit):
        main(["fluorescence-teacher", "--data", str(pairs), *COMMON, "--scribbles", budgets])
    assert "--scribbles" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "finished"),
    [(["--scribbles"], 3), (["--seeds", "3,5"], 1)],
    ids=["after-three-models", "after-one-seed"],
)
def test_a_run_stopped_part_way_keeps_the_trainings_it_finished(
    pairs, tmp_path, monkeypatch, arguments, finished
):
    """Trainings take minutes to hours on real data; the JSON holds each one as it ends."""
    out = tmp_path / "stopped.json"
    train_and_score = teacher.train_and_score
    trained = []

    def stopped(*args, **kwargs):
        if len(trained) == finished:
            raise KeyboardInterrupt  # the person running it, or the session's end, stops it
        trained.append(kwargs["description"])
        return train_and_score(*args, **kwargs)

    monkeypatch.setattr(teacher, "train_and_score", stopped)
    with pytest.raises(KeyboardInterrupt):
        main(["fluorescence-teacher", "--data", str(pairs), *COMMON, *arguments, "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["incomplete"] is True and saved["config"]["train_pool"] == ["p0", "p1"]
    assert saved["pseudo_masks"]["pixel_f1"] > 0.8
    if finished == 3:  # the teacher, the ground truth and the scribbles whole; not the mix
        assert trained == ["teacher", "ground truth", "scribbles"]
        assert set(saved["teacher"]) == set(saved["ground_truth"]) == RUN
        assert saved["scribbles"]["labels"] == "scribbles"
        assert saved["scribbles"]["scribble_budget"] == 0.05  # --scribbles alone: --scribble-budget's
        assert "scribbles_and_teacher" not in saved
    else:  # the teacher's first seed, not yet an ensemble
        assert [run["seed"] for run in saved["teacher_runs"]] == [3]
        assert "teacher" not in saved and set(saved["teacher_runs"][0]) == RUN
    assert [path.name for path in tmp_path.iterdir()] == ["stopped.json"]  # nothing half-written
