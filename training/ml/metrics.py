"""Segmentation metrics on numpy arrays: pixel-wise F1 and IoU per class, object-level F1.

Pixel-wise F1 is the research's "PW F1". Object-level scores match predicted and true objects
one to one at IoU >= 0.5; above 0.5 a match is necessarily unique, so no assignment is needed.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def pixel_scores(
    pred: np.ndarray, target: np.ndarray, *, num_classes: int, ignore: int = -1
) -> dict[int, dict[str, float]]:
    """Precision, recall, F1 and IoU of each class over the pixels whose target is known.

    Shape: pred and target (...) integer class maps of the same shape. A class absent from both
    scores 1.0 (nothing to find, nothing found); absent from one only, 0.0.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    known = target != ignore
    p = pred[known].astype(np.int64)
    t = target[known].astype(np.int64)
    confusion = np.bincount(p * num_classes + t, minlength=num_classes**2).reshape(num_classes, num_classes)
    scores = {}
    for c in range(num_classes):
        tp = float(confusion[c, c])
        fp = float(confusion[c].sum()) - tp
        fn = float(confusion[:, c].sum()) - tp
        scores[c] = _ratios(tp, fp, fn)
    return scores


def _ratios(tp: float, fp: float, fn: float) -> dict[str, float]:
    if tp + fp + fn == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "iou": 1.0}
    return {
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn),
        "iou": tp / (tp + fp + fn),
    }


def object_scores(
    pred_instances: np.ndarray, true_instances: np.ndarray, *, iou_threshold: float = 0.5
) -> dict[str, float]:
    """Object precision, recall and F1 with one-to-one matching at IoU >= iou_threshold.

    Shape: two (H, W) instance maps, 0 = background.
    """
    pred_ids, pred_index = np.unique(pred_instances, return_inverse=True)
    true_ids, true_index = np.unique(true_instances, return_inverse=True)
    overlap = np.bincount(
        pred_index.ravel() * len(true_ids) + true_index.ravel(), minlength=len(pred_ids) * len(true_ids)
    ).reshape(len(pred_ids), len(true_ids))
    keep_pred, keep_true = pred_ids != 0, true_ids != 0
    intersection = overlap[keep_pred][:, keep_true].astype(np.float64)
    pred_area = overlap.sum(axis=1)[keep_pred][:, None]
    true_area = overlap.sum(axis=0)[keep_true][None, :]
    iou = intersection / np.maximum(pred_area + true_area - intersection, 1)
    matched = _match(iou, iou_threshold)
    predicted, true = int(keep_pred.sum()), int(keep_true.sum())
    tp = float(matched)
    result = _ratios(tp, predicted - tp, true - tp)
    return {
        "precision": result["precision"],
        "recall": result["recall"],
        "f1": result["f1"],
        "matched": tp,
        "predicted": float(predicted),
        "true": float(true),
    }


def _match(iou: np.ndarray, threshold: float) -> int:
    if iou.size == 0:
        return 0
    if threshold > 0.5:  # each object can then overlap that much with one partner at most
        return int((iou >= threshold).sum())
    rows, cols = linear_sum_assignment(-iou)
    return int((iou[rows, cols] >= threshold).sum())


def segmentation_report(
    pred_classes: np.ndarray,
    target_classes: np.ndarray,
    *,
    num_classes: int,
    foreground: list[int],
    pred_instances: np.ndarray | None = None,
    true_instances: np.ndarray | None = None,
) -> dict[str, float]:
    """Mean pixel F1 and IoU over the foreground classes, and object F1 when instances are given."""
    scores = pixel_scores(pred_classes, target_classes, num_classes=num_classes)
    report = {
        "pixel_f1": float(np.mean([scores[c]["f1"] for c in foreground])),
        "iou": float(np.mean([scores[c]["iou"] for c in foreground])),
    }
    if pred_instances is not None and true_instances is not None:
        report["object_f1"] = object_scores(pred_instances, true_instances)["f1"]
    return report
