"""weak-tags in quick mode on a tiny generated data set, and how it turns labels into tile tags."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from tests.factories import nuclei_folder
from training.bench.cli import main, parser
from training.bench.datasets import Item
from training.bench.weaktags import PSEUDO_MASK_SCORES, tag_tiles, tagged_absent, tags_said, tags_target

SCORE_KEYS = {"pixel_f1", "iou", "object_f1", "pixel_precision", "pixel_recall", "train_seconds"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return nuclei_folder(tmp_path_factory.mktemp("weak"), count=4, size=96, nuclei=4)


def test_quick_weak_tags_scores_tags_and_dense_and_writes_json(folder, tmp_path, capsys):
    out = tmp_path / "weak.json"
    argv = ["weak-tags", "--data", str(folder), "--test-count", "2", "--tile", "64", "--tag-tile", "32"]
    assert main([*argv, "--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    for name in ("tags", "dense"):
        assert set(result[name]) >= SCORE_KEYS
        assert all(0.0 <= result[name][key] <= 1.0 for key in ("pixel_f1", "iou", "object_f1"))
    config = result["config"]
    assert config["tile"] == 64 and config["tag_tile"] == 32 and config["quick"] is True
    assert 0 < config["tag_tiles_present"] <= config["tag_tiles"] == 2 * 9  # two training fields, 3x3 tiles
    assert config["train_pool"] == ["f0", "f1"] and config["test"] == ["f2", "f3"]
    assert 0.0 < result["pseudo_masks"]["labelled_fraction"] <= 1.0
    assert config["unet"]["weight_classes"] is True  # as the app's tags runs train
    assert "Score-CAM" in capsys.readouterr().err  # progress bars


def test_tiles_are_tagged_by_whether_any_object_pixel_is_in_them():
    instances = np.zeros((64, 96), dtype=np.int32)
    instances[40, 70] = 3  # one pixel in the tile at row 1, column 2
    item = Item("x", np.zeros((1, 64, 96), np.uint16), instances)
    args = argparse.Namespace(tag_tile=32, low=0.2, high=0.5)
    tiles = tag_tiles(np.zeros((1, 64, 96), np.float32), item, args)
    assert [t.present for t in tiles] == [False, False, False, False, False, True]
    # The pseudo-mask: the CAM thresholded, and every absent tile background whatever its map says.
    cam = np.full((64, 96), 0.9, dtype=np.float32)
    absent = tagged_absent(item, args)
    assert absent[:32].all() and absent[:, :64].all() and not absent[32:, 64:].any()
    target = tags_target(cam, absent, args)
    assert (target[32:, 64:] == 1).all() and (target[:32] == 0).all() and (target[:, :64] == 0).all()


def test_weak_tags_weights_the_classes_unless_told_not_to_and_other_commands_do_not():
    def weighted(*argv: str) -> bool:
        return parser().parse_args([*argv, "--data", "somewhere"]).class_weights

    assert weighted("weak-tags") is True
    assert weighted("weak-tags", "--no-class-weights") is False
    assert weighted("label-efficiency") is False
    assert weighted("label-efficiency", "--class-weights") is True


def test_with_two_seeds_each_part_runs_once_per_seed_with_its_spread(folder, tmp_path, capsys):
    out = tmp_path / "weak-seeds.json"
    argv = ["weak-tags", "--data", str(folder), "--test-count", "2", "--tile", "64", "--no-dense"]
    assert main([*argv, "--quick", "--seeds", "0,1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert "tags" not in result and "dense_runs" not in result and "incomplete" not in result
    assert [run["seed"] for run in result["tags_runs"]] == [0, 1]
    assert [run["seed"] for run in result["pseudo_masks_runs"]] == [0, 1]
    summary = result["tags_summary"]
    values = [run["pixel_f1"] for run in result["tags_runs"]]
    assert summary["seeds"] == [0, 1] and summary["pixel_f1"]["values"] == [round(v, 4) for v in values]
    assert summary["pixel_f1"]["mean"] == pytest.approx(sum(values) / 2, abs=1e-4)
    assert set(result["pseudo_masks_summary"]) == {"seeds", *PSEUDO_MASK_SCORES}
    assert "2 seeds (sd = sample standard deviation" in capsys.readouterr().err


def test_image_tags_are_one_per_image_and_the_classifier_sees_its_pieces_with_that_tag():
    instances = np.zeros((64, 96), dtype=np.int32)
    instances[40, 70] = 3
    item = Item("x", np.zeros((1, 64, 96), np.uint16), instances)
    args = parser().parse_args(["weak-tags", "--data", "somewhere", "--tag-tile", "image", "--tile", "32"])
    tiles = tag_tiles(np.zeros((1, 64, 96), np.float32), item, args)
    assert len(tiles) == 2 * 3 and all(t.present for t in tiles)  # 32-px pieces of a present image
    assert tags_said([item, item], args) == 2
    empty = Item("y", item.image, np.zeros_like(instances))
    assert (
        tags_target(np.ones((64, 96), np.float32), tagged_absent(empty, args), args) == 0
    ).all()  # absent: background
    with pytest.raises(SystemExit):
        parser().parse_args(["weak-tags", "--data", "somewhere", "--tag-tile", "4"])


def test_tags_that_all_say_present_are_refused_before_anything_trains(folder):
    argv = ["weak-tags", "--data", str(folder), "--test-count", "2", "--tag-tile", "image", "--quick"]
    with pytest.raises(SystemExit, match="2 of the training images' 2 tags say present"):
        main(argv)
