"""Metrics on tiny maps with expectations counted by hand."""

from __future__ import annotations

import time

import numpy as np
import pytest

from training.ml.metrics import confusion_matrix, object_scores, pixel_scores, segmentation_report


def test_pixel_scores_count_by_hand():
    pred = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]])
    target = np.array([[1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 1, -1], [0, 0, 0, 0]])
    # class 1 over the 15 known pixels: TP = 3 ((0,0), (0,1), (2,2)), FP = 1 ((1,0)), FN = 1 ((0,2));
    # (2,3) is unknown, so predicting 1 there costs nothing. F1 = 6 / 8, IoU = 3 / 5.
    scores = pixel_scores(pred, target, num_classes=2)
    assert scores[1]["f1"] == pytest.approx(6 / 8)
    assert scores[1]["iou"] == pytest.approx(3 / 5)
    assert scores[1]["precision"] == pytest.approx(3 / 4) and scores[1]["recall"] == pytest.approx(3 / 4)
    # class 0: TP = 10, FP = 1 ((0,2)), FN = 1 ((1,0)) -> F1 = 20 / 22, IoU = 10 / 12.
    assert scores[0]["f1"] == pytest.approx(20 / 22)
    assert scores[0]["iou"] == pytest.approx(10 / 12)


def test_the_confusion_matrix_leaves_ignored_pixels_out():
    pred = np.array([[0, 1, 2], [2, 2, 0]])
    target = np.array([[0, 1, 1], [255, 2, 255]])
    # known pixels: (0,0) 0->0, (0,1) 1->1, (0,2) true 1 predicted 2, (1,1) 2->2.
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1]])  # rows predicted, columns true
    assert (confusion_matrix(pred, target, num_classes=3, ignore=255) == expected).all()
    scores = pixel_scores(pred, target, num_classes=3, ignore=255)
    assert scores[2]["precision"] == pytest.approx(1 / 2) and scores[2]["recall"] == 1.0
    assert scores[1]["recall"] == pytest.approx(1 / 2)


def test_absent_classes():
    zeros = np.zeros((2, 2), int)
    scores = pixel_scores(zeros, zeros, num_classes=3)
    assert scores[2] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "iou": 1.0}  # absent from both
    assert pixel_scores(np.ones((2, 2), int), zeros, num_classes=2)[1]["f1"] == 0.0  # predicted only
    assert pixel_scores(zeros, np.ones((2, 2), int), num_classes=2)[1]["iou"] == 0.0  # missed only


def test_bad_inputs_say_what_to_fix():
    zeros = np.zeros((2, 2), int)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        pixel_scores(zeros + 2, zeros, num_classes=2)
    with pytest.raises(ValueError, match="ignore"):
        pixel_scores(zeros, zeros - 2, num_classes=2)
    with pytest.raises(ValueError, match="differ in shape"):
        pixel_scores(zeros, np.zeros((2, 3), int), num_classes=2)


def test_pixel_scores_of_a_large_map_take_well_under_a_second():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, (4096, 4096)).astype(np.uint8)
    target = rng.integers(-1, 3, (4096, 4096)).astype(np.int16)
    started = time.perf_counter()
    scores = pixel_scores(pred, target, num_classes=3)
    assert time.perf_counter() - started < 1.0
    assert scores[1]["f1"] == pytest.approx(1 / 3, abs=0.01)  # independent uniform guesses


def split_missed_and_spurious() -> tuple[np.ndarray, np.ndarray]:
    true = np.zeros((10, 20), int)
    true[1:5, 1:5] = 1  # found exactly
    true[1:5, 8:12] = 2  # missed
    true[6:10, 1:9] = 3  # found split in two halves of 16 pixels: IoU 16 / 32 = 0.5 each
    pred = np.zeros((10, 20), int)
    pred[1:5, 1:5] = 7
    pred[6:10, 1:5] = 8
    pred[6:10, 5:9] = 9
    pred[1:3, 15:18] = 4  # a false positive
    return pred, true


def test_object_matching_one_to_one():
    pred, true = split_missed_and_spurious()
    scores = object_scores(pred, true)
    # matched: object 1 (IoU 1) and object 3 (IoU exactly 0.5 with either half, one-to-one -> 1).
    assert (scores["matched"], scores["predicted"], scores["true"]) == (2, 4, 3)
    assert scores["precision"] == pytest.approx(2 / 4) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 2 / (4 + 3))
    # a lower threshold still matches each object once; a stricter one drops the split object.
    assert object_scores(pred, true, iou_threshold=0.3)["matched"] == 2
    assert object_scores(pred, true, iou_threshold=0.75)["matched"] == 1


def test_labels_need_not_be_consecutive():
    pred, true = split_missed_and_spurious()
    huge = np.where(pred > 0, pred + 10**9, 0)
    assert object_scores(huge, true * 5) == object_scores(pred, true)


def test_low_thresholds_find_the_largest_one_to_one_matching():
    true = np.zeros((2, 8), int)
    true[:, 0:4], true[:, 4:8] = 1, 2
    pred = np.zeros((2, 8), int)
    pred[:, 2:6] = 1  # IoU 4 / 12 = 1/3 with both true objects
    pred[:, 0:2] = 2  # IoU 4 / 8 = 1/2 with true 1 only; pred 1 must then take true 2
    pred[:, 6:8] = 0
    scores = object_scores(pred, true, iou_threshold=0.3)
    assert (scores["matched"], scores["predicted"], scores["true"]) == (2, 2, 2)


def test_object_scores_of_empty_maps():
    empty = np.zeros((4, 4), int)
    assert object_scores(empty, empty) == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "matched": 0.0,
        "predicted": 0.0,
        "true": 0.0,
    }
    one = empty.copy()
    one[1:3, 1:3] = 1
    assert object_scores(empty, one)["f1"] == 0.0
    assert object_scores(one, empty)["precision"] == 0.0


def test_report_averages_foreground_classes():
    pred = np.array([[0, 1, 2, 2]])
    target = np.array([[0, 1, 2, 1]])
    report = segmentation_report(pred, target, num_classes=3, foreground=[1, 2])
    # class 1: TP 1, FN 1 -> F1 2/3, IoU 1/2; class 2: TP 1, FP 1 -> F1 2/3, IoU 1/2.
    assert report == pytest.approx({"pixel_f1": 2 / 3, "iou": 1 / 2})


def test_report_adds_object_f1_when_instances_are_given():
    pred, true = split_missed_and_spurious()
    report = segmentation_report(
        (pred > 0).astype(int),
        (true > 0).astype(int),
        num_classes=2,
        foreground=[1],
        pred_instances=pred,
        true_instances=true,
    )
    assert report["object_f1"] == pytest.approx(4 / 7)
    with pytest.raises(ValueError, match="foreground"):
        segmentation_report(pred > 0, true > 0, num_classes=2, foreground=[])
