"""Metrics on tiny maps with expectations counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.ml.metrics import object_scores, pixel_scores, segmentation_report


def test_pixel_scores_count_by_hand():
    pred = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]])
    target = np.array([[1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 1, -1], [0, 0, 0, 0]])
    # class 1 over known pixels: TP = 3 ((0,0), (0,1), (2,2)), FP = 1 ((1,0)), FN = 1 ((0,2));
    # (2,3) is unknown and ignored. F1 = 6 / 8, IoU = 3 / 5.
    scores = pixel_scores(pred, target, num_classes=2)
    assert scores[1]["f1"] == pytest.approx(6 / 8)
    assert scores[1]["iou"] == pytest.approx(3 / 5)
    assert scores[1]["precision"] == pytest.approx(3 / 4) and scores[1]["recall"] == pytest.approx(3 / 4)
    # class 0: TP = 10, FP = 1, FN = 1 -> F1 = 20 / 22.
    assert scores[0]["f1"] == pytest.approx(20 / 22)


def test_absent_classes():
    zeros = np.zeros((2, 2), int)
    scores = pixel_scores(zeros, zeros, num_classes=3)
    assert scores[2]["f1"] == 1.0  # absent from both
    assert pixel_scores(np.ones((2, 2), int), zeros, num_classes=2)[1]["f1"] == 0.0


def test_object_matching_one_to_one():
    true = np.zeros((10, 20), int)
    true[1:5, 1:5] = 1  # found exactly
    true[1:5, 8:12] = 2  # missed
    true[6:10, 1:9] = 3  # found split in two halves: each half has IoU 0.5 -> one of them matches
    pred = np.zeros((10, 20), int)
    pred[1:5, 1:5] = 7
    pred[6:10, 1:5] = 8
    pred[6:10, 5:9] = 9
    pred[1:3, 15:18] = 4  # a false positive
    scores = object_scores(pred, true)
    # matched: object 1 (IoU 1) and object 3 (IoU exactly 0.5 with either half, one-to-one -> 1).
    assert (scores["matched"], scores["predicted"], scores["true"]) == (2, 4, 3)
    assert scores["precision"] == pytest.approx(2 / 4) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 2 / (4 + 3))


def test_object_scores_of_empty_maps():
    empty = np.zeros((4, 4), int)
    assert object_scores(empty, empty)["f1"] == 1.0
    one = empty.copy()
    one[1:3, 1:3] = 1
    assert object_scores(empty, one)["f1"] == 0.0


def test_report_averages_foreground_classes():
    pred = np.array([[0, 1, 2, 2]])
    target = np.array([[0, 1, 2, 1]])
    report = segmentation_report(pred, target, num_classes=3, foreground=[1, 2])
    # class 1: TP 1, FN 1 -> F1 2/3; class 2: TP 1, FP 1 -> F1 2/3.
    assert report["pixel_f1"] == pytest.approx(2 / 3)
