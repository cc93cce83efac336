"""Several seeds of a benchmark: each run, their mean and spread (training/bench/seeds.py)."""

from __future__ import annotations

import json

import pytest

from training.bench.cli import main
from training.bench.seeds import spread, spread_by, spread_table


def run(seed: int, pixel_f1: float, **more: float) -> dict[str, float]:
    return {"seed": seed, "train_images": 4, "pixel_f1": pixel_f1, "iou": 0.5, "object_f1": 0.4, **more}


def test_the_spread_is_the_mean_sample_sd_and_range_of_each_score():
    summary = spread([run(0, 0.5), run(1, 0.7), run(2, 0.9)])
    # Deviations -0.2, 0, 0.2: squares sum to 0.08, over n - 1 = 2 seeds 0.04, so sd 0.2.
    assert summary["pixel_f1"] == {
        "values": [0.5, 0.7, 0.9],
        "mean": 0.7,
        "sd": 0.2,
        "min": 0.5,
        "max": 0.9,
        "ensemble": None,
    }
    assert summary["seeds"] == [0, 1, 2] and summary["train_images"] == 4
    assert summary["iou"]["sd"] == 0.0


def test_spreads_are_taken_per_group_in_the_order_the_groups_come():
    runs = [run(0, 0.2, train_images=8), run(1, 0.4, train_images=8), run(0, 0.6), run(1, 1.0)]
    eight, four = spread_by(runs, "train_images")
    assert (eight["train_images"], eight["pixel_f1"]["mean"]) == (8, 0.3)
    assert (four["train_images"], four["pixel_f1"]["mean"], four["pixel_f1"]["max"]) == (4, 0.8, 1.0)


def test_one_run_has_no_spread():
    with pytest.raises(ValueError, match="at least two"):
        spread([run(0, 0.5)])


def test_the_table_shows_each_seed_the_mean_and_which_spread():
    table = spread_table([("4 images", spread([run(3, 0.5), run(5, 0.7)], {**run(0, 0), "pixel_f1": 0.8}))])
    header, row = table.splitlines()[1], table.splitlines()[2]
    assert "sample standard deviation" in table.splitlines()[0]
    assert header.split() == [
        "what",
        "metric",
        "seed",
        "3",
        "seed",
        "5",
        "mean",
        "sd",
        "min",
        "max",
        "ensemble",
    ]
    assert row.split() == [
        "4",
        "images",
        "pixel_f1",
        "0.5000",
        "0.7000",
        "0.6000",
        "0.1414",
        "0.5000",
        "0.7000",
        "0.8000",
    ]


def test_the_peer_with_two_seeds_reports_each_run_and_their_spread(pairs, tmp_path, capsys):
    out = tmp_path / "peer.json"
    argv = [
        "peer",
        "--data",
        str(pairs),
        "--input-channel",
        "brightfield",
        "--test-count",
        "2",
        "--sizes",
        "1,2",
    ]
    assert main([*argv, "--quick", "--seeds", "0,1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [(r["train_images"], r["seed"]) for r in result["runs"]] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    one, two = result["summary"]
    assert one["train_images"] == 1 and one["seeds"] == [0, 1]
    for summary, runs in ((one, result["runs"][:2]), (two, result["runs"][2:])):
        values = [r["pixel_f1"] for r in runs]
        assert summary["pixel_f1"]["values"] == [round(v, 4) for v in values]
        assert summary["pixel_f1"]["mean"] == pytest.approx(sum(values) / 2, abs=1e-4)
        assert summary["pixel_f1"]["min"] <= summary["pixel_f1"]["mean"] <= summary["pixel_f1"]["max"]
    assert "2 seeds (sd = sample standard deviation" in capsys.readouterr().err
    # --seed alone (the default) trains once and adds no summary.
    assert main([*argv, "--quick", "--seed", "4", "--out", str(out)]) == 0
    alone = json.loads(out.read_text())
    assert [r["seed"] for r in alone["runs"]] == [4, 4] and "summary" not in alone
