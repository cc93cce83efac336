"""`python -m training.bench across-experiments` with tiny settings on tiny generated fields of three
"experiments" (file-name prefixes), as ../shared/data/aisegcell names its fields."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from labeling.synthetic import synthetic_field
from training.bench.cli import main
from training.bench.common import scores_of
from training.bench.datasets import load_folder
from training.bench.experiments import adapted, by_experiment, experiment_of, recovered

FIELDS = {"200101AA10": 2, "200202BB20": 1, "200303CC30": 1}


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    for sub in ("brightfield", "fluorescence", "nuclei"):
        (root / sub).mkdir()
    seed = 0
    for experiment, count in FIELDS.items():
        for field_number in range(count):
            field = synthetic_field(seed=seed, height=64, width=64, nuclei=4)
            name = f"{experiment}_p{field_number:04d}_t00001_z001.png"
            PILImage.fromarray(field.brightfield).save(root / "brightfield" / name)
            PILImage.fromarray(field.fluorescence).save(root / "fluorescence" / name)
            PILImage.fromarray((field.mask * 255).astype(np.uint8)).save(root / "nuclei" / name)
            seed += 1
    return root


def test_fields_group_by_the_experiment_their_names_start_with(experiments):
    assert experiment_of("170601SH11_p0023_t00001_z001") == "170601SH11"
    groups = by_experiment(load_folder(experiments, input_channel="brightfield"))
    assert {name: len(items) for name, items in groups.items()} == FIELDS


def test_each_experiment_is_left_out_scored_and_adapted_with_fewer_fields_than_it_has(experiments, tmp_path):
    out = tmp_path / "across.json"
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield"]
    quick = [
        "--steps",
        "6",
        "--patch-size",
        "32",
        "--batch-size",
        "2",
        "--adapt",
        "1,2",
        "--adapt-steps",
        "3",
    ]
    quick += ["--seeds", "0,1"]
    assert main([*args, *quick, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [run["seed"] for run in result["runs"]] == [0, 1]
    for run in result["runs"]:
        folds = {fold["experiment"]: fold for fold in run["folds"]}
        assert set(folds) == set(FIELDS)
        for experiment, fold in folds.items():
            assert fold["train_images"] == sum(FIELDS.values()) - FIELDS[experiment]
            assert all(name.startswith(experiment) for name in fold["fields"])
            assert 0.0 <= fold["transfer"]["pixel_f1"] <= 1.0
            # k labelled fields adapt, the rest are scored: only k below the field count.
            assert [len(entry["labelled"]) for entry in fold["adapt"]] == list(range(1, FIELDS[experiment]))
            for entry in fold["adapt"]:
                assert len(entry["labelled"]) + len(entry["scored"]) == FIELDS[experiment]
                assert not set(entry["labelled"]) & set(entry["scored"])
                assert {"transfer", "scribbles", "dense", "recovered"} <= set(entry)
        assert run["pooled"]["train_images"] == sum(FIELDS.values())  # every field held out once
        assert run["pooled"]["complete"] is True
        # Pooled from the folds' counts: every held-out pixel and object, once.
        added = {
            key: sum(fold["transfer"]["counts"][key] for fold in folds.values()) for key in ("tp", "fp", "fn")
        }
        assert sum(added.values()) <= sum(FIELDS.values()) * 64 * 64
        assert run["pooled"]["pixel_f1"] == pytest.approx(
            2 * added["tp"] / (2 * added["tp"] + added["fp"] + added["fn"])
        )
    assert set(result["summary"]["pixel_f1"]) >= {"mean", "sd", "min", "max"}
    # Only 200101AA10 has a field to spare: k = 1 in one fold, per seed and over the seeds.
    assert [[row["folds"] for row in run["adapted"]] for run in result["runs"]] == [[["200101AA10"]]] * 2
    ((k1,),) = [[row for row in result["adapted_summary"]]]
    assert k1["k"] == 1 and k1["seeds"] == [0, 1]
    assert k1["scribbles"]["values"] == [run["adapted"][0]["scribbles"] for run in result["runs"]]


def test_only_the_named_experiments_are_held_out_and_unknown_ones_are_refused(experiments):
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield", "--quick"]
    with pytest.raises(SystemExit, match="200909ZZ99 not in"):
        main([*args, "--experiments", "200909ZZ99"])


def test_recovered_is_the_share_of_the_gap_the_scribbles_close():
    assert recovered({"pixel_f1": 0.5}, {"pixel_f1": 0.6}, {"pixel_f1": 0.7}) == 0.5
    assert recovered({"pixel_f1": 0.5}, {"pixel_f1": 0.6}, {"pixel_f1": 0.5}) is None


def test_with_the_teacher_each_adaptation_also_learns_from_scribbles_and_the_stain(experiments, tmp_path):
    out = tmp_path / "teacher.json"
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield"]
    tiny = ["--steps", "4", "--patch-size", "32", "--batch-size", "2", "--adapt", "1", "--adapt-steps", "2"]
    only = ["--experiments", "200101AA10", "--with-teacher"]
    assert main([*args, *tiny, *only, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["teacher_channel"] == "fluorescence"
    (run,) = result["runs"]
    ((entry,),) = [fold["adapt"] for fold in run["folds"]]
    assert entry["labelled"] == ["200101AA10_p0000_t00001_z001"]
    mixed = entry["scribbles_and_teacher"]
    assert 0.0 <= mixed["pixel_f1"] <= 1.0
    assert entry["recovered_with_teacher"] == recovered(entry["transfer"], mixed, entry["dense"])


def test_the_teacher_needs_its_channel_folder(experiments):
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield", "--quick"]
    with pytest.raises(SystemExit, match="dapi/ does not exist"):
        main([*args, "--experiments", "200101AA10", "--with-teacher", "--teacher-channel", "dapi"])


TINY = ["--steps", "4", "--patch-size", "32", "--batch-size", "2", "--adapt", "1", "--adapt-steps", "2"]


def test_a_resumed_result_keeps_its_folds_runs_the_missing_ones_and_pools_them_all(experiments, tmp_path):
    out = tmp_path / "parts.json"
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield", *TINY]
    assert main([*args, "--seeds", "0,1", "--experiments", "200101AA10", "--out", str(out)]) == 0
    first = json.loads(out.read_text())
    assert [run["pooled"]["complete"] for run in first["runs"]] == [False, False]
    assert "summary" not in first, "no spread of seeds that lack experiments"
    kept = first["runs"][0]["folds"][0]
    resume = [*args, "--seeds", "0,1", "--resume", "--out", str(out)]
    assert main([*resume, "--experiments", "200202BB20,200303CC30"]) == 0
    result = json.loads(out.read_text())
    for run in result["runs"]:
        assert [fold["experiment"] for fold in run["folds"]] == list(FIELDS)
        assert run["pooled"]["complete"] is True and run["pooled"]["train_images"] == sum(FIELDS.values())
        counts = {
            key: sum(fold["transfer"]["counts"][key] for fold in run["folds"])
            for key in kept["transfer"]["counts"]
        }
        assert {key: run["pooled"][key] for key in scores_of(counts)} == scores_of(counts)
    assert result["runs"][0]["folds"][0] == kept, "the kept fold is not trained again"
    assert set(result["summary"]["pixel_f1"]) >= {"mean", "sd"}


def test_resume_refuses_a_result_made_with_other_settings_and_needs_one(experiments, tmp_path):
    out = tmp_path / "other.json"
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield"]
    assert main([*args, *TINY, "--experiments", "200202BB20", "--out", str(out)]) == 0
    before = out.read_text()
    longer = [*TINY[:1], "5", *TINY[2:]]
    with pytest.raises(SystemExit, match=r"made with other settings \(.*steps"):
        main([*args, *longer, "--experiments", "200303CC30", "--resume", "--out", str(out)])
    assert out.read_text() == before, "a refused resume writes nothing"
    with pytest.raises(SystemExit, match="--resume needs --out"):
        main([*args, *TINY, "--resume", "--out", str(tmp_path / "absent.json")])


def fold(experiment: str, transfer: float, scribbles: float, dense: float) -> dict:
    entry = {
        "labelled": [f"{experiment}_p0000"],
        "transfer": {"pixel_f1": transfer},
        "scribbles": {"pixel_f1": scribbles},
        "dense": {"pixel_f1": dense},
    }
    entry["recovered"] = recovered(entry["transfer"], entry["scribbles"], entry["dense"])
    return {"experiment": experiment, "adapt": [entry]}


def test_the_adaptations_are_summed_up_per_k_as_the_gap_their_means_close():
    # A: half the gap (0.5 -> 0.6 of 0.7); B: an eighth (0.1 -> 0.2 of 0.9).
    (row,) = adapted([fold("A", 0.5, 0.6, 0.7), fold("B", 0.1, 0.2, 0.9)])
    assert row["k"] == 1 and row["folds"] == ["A", "B"]
    assert (row["transfer"], row["scribbles"], row["dense"]) == pytest.approx((0.3, 0.4, 0.8))
    assert row["recovered"] == pytest.approx(0.2)  # (0.4 - 0.3) / (0.8 - 0.3), not the shares' mean
    assert row["recovered_folds_at_half"] == 1
    assert "recovered_with_teacher" not in row, "no teacher in these folds"


def test_parts_run_side_by_side_into_their_own_files_come_together_with_include(experiments, tmp_path):
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield", *TINY]
    parts = [tmp_path / "seed0.json", tmp_path / "seed1.json"]
    for seed, part in enumerate(parts):
        assert main([*args, "--seeds", str(seed), "--out", str(part)]) == 0
    merged = tmp_path / "merged.json"
    included = ",".join(str(part) for part in parts)
    assert main([*args, "--seeds", "0,1", "--include", included, "--out", str(merged)]) == 0
    result = json.loads(merged.read_text())
    for part, run in zip(parts, result["runs"], strict=True):
        (own,) = json.loads(part.read_text())["runs"]
        assert run["folds"] == own["folds"], "every fold comes from its part, none is trained again"
        assert run["pooled"]["complete"] is True
    assert result["summary"]["seeds"] == [0, 1] and "incomplete" not in result


def test_include_refuses_a_missing_file_or_other_settings_and_writes_nothing(experiments, tmp_path):
    args = ["across-experiments", "--data", str(experiments), "--input-channel", "brightfield"]
    part = tmp_path / "part.json"
    assert main([*args, *TINY, "--experiments", "200202BB20", "--out", str(part)]) == 0
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit, match=r"absent\.json does not exist"):
        main([*args, *TINY, "--include", str(tmp_path / "absent.json"), "--out", str(out)])
    longer = [*TINY[:1], "5", *TINY[2:]]
    with pytest.raises(SystemExit, match=r"--include: .*part.json was made with other settings \(.*steps"):
        main([*args, *longer, "--include", str(part), "--out", str(out)])
    assert not out.exists()
