"""cam-thresholds: each rule's pseudo-masks, and a quick run that scores them on generated fields."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.factories import nuclei_folder
from training.bench.camthresholds import multi_otsu, pseudo_scores, tag_youden, tile_relative
from training.bench.cli import main, parser
from training.bench.datasets import Item


def args_for(*extra: str):
    return parser().parse_args(["cam-thresholds", "--data", "somewhere", "--tag-tile", "32", *extra])


@pytest.fixture
def item() -> Item:
    instances = np.zeros((64, 64), dtype=np.int32)
    instances[4:12, 4:12] = 1  # the top-left tile holds an object; the other three are empty
    return Item("x", np.zeros((1, 64, 64), np.uint16), instances)


@pytest.fixture
def root(tmp_path):
    return nuclei_folder(tmp_path / "data", count=3, size=64, nuclei=2)


def test_tile_relative_labels_each_present_tile_near_its_own_peak_and_absent_tiles_background(item):
    cam = np.full((64, 64), 0.5, dtype=np.float32)
    cam[5:9, 5:9] = 0.6  # a dim peak: a fixed 0.85 would label nothing here
    cam[40:50, 40:50] = 1.0  # bright, but in a tile tagged absent
    target = tile_relative(cam, item, args_for(), 0.9)
    assert (target[5:9, 5:9] == 1).all() and (target[:32, :32] == 1).sum() == 16
    assert (target[:32, :32][cam[:32, :32] < 0.6] == -1).all()  # the rest of the tile is unknown
    assert (target[32:] == 0).all() and (target[:, 32:] == 0).all()


def test_multi_otsu_finds_the_bright_core_inside_the_present_tile(item):
    cam = np.zeros((64, 64), dtype=np.float32)
    cam[:32, :32] = 0.1
    cam[2:14, 2:14] = 0.4
    cam[5:11, 5:11] = 0.9
    target = multi_otsu(cam, item, args_for())
    assert (target[5:11, 5:11] == 1).all() and (target == 1).sum() == 36
    assert (target[32:] == 0).all()


def test_tag_youden_picks_a_threshold_between_present_and_absent_peaks(item):
    cam = np.zeros((64, 64), dtype=np.float32)
    cam[6, 6] = 0.8  # the present tile peaks at 0.8, the absent ones at 0.3
    cam[40, 40] = cam[10, 40] = cam[40, 10] = 0.3
    assert 0.3 < tag_youden([cam], [item], args_for()) <= 0.8


def test_pseudo_scores_count_what_is_labelled_against_the_truth(item):
    target = np.full((64, 64), -1, dtype=np.int64)
    target[4:8, 4:12] = 1  # half the object, all correct
    target[20:24, 20:24] = 1  # 16 wrong pixels
    scores = pseudo_scores([target], [item])
    assert scores["object_recall"] == 0.5
    assert scores["object_precision"] == pytest.approx(32 / 48, abs=1e-4)


def test_a_quick_run_scores_every_rule_on_generated_fields(tmp_path, root):
    out = tmp_path / "rules.json"
    argv = ["cam-thresholds", "--data", str(root), "--test-count", "1", "--tile", "64", "--tag-tile", "16"]
    assert main([*argv, "--quick", "--relative", "0.9", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    names = list(result["rules"])
    assert names[:2] == ["fixed 0.2/0.85", "multi-otsu"] and names[-1] == "tile-relative 0.9"
    assert names[2].startswith("tag-youden (")
    for scores in result["rules"].values():
        assert 0.0 <= scores["object_recall"] <= 1.0 and 0.0 < scores["labelled_fraction"] <= 1.0
    assert result["config"]["train_pool"] == ["f0", "f1"]


def test_cam_scales_are_parsed_once_and_an_unknown_one_is_refused(capsys):
    assert args_for("--cam-scales", "window, run").cam_scales == ("window", "run")
    with pytest.raises(SystemExit):
        args_for("--cam-scales", "window,tile")
    assert "name some of window, image, run" in capsys.readouterr().err


def test_each_cam_scale_gets_every_rule_from_one_pass(tmp_path, root):
    out = tmp_path / "rules.json"
    argv = ["cam-thresholds", "--data", str(root), "--test-count", "1", "--tile", "32", "--tag-tile", "16"]
    assert (
        main([*argv, "--quick", "--relative", "0.9", "--cam-scales", "window,image,run", "--out", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    for scale in ("window", "image", "run"):
        assert (
            f"{scale}: fixed 0.2/0.85" in result["rules"] and f"{scale}: tile-relative 0.9" in result["rules"]
        )
    assert len(result["rules"]) == 3 * 4
    assert result["config"]["cam_scales"] == ["window", "image", "run"]
