"""Segmentation metrics on numpy arrays: pixel-wise F1 and IoU per class, object-level F1.

Pixel-wise F1 is the research's "PW F1". Object-level scores match predicted and true objects
one to one at IoU >= a threshold. Above 0.5 a match is necessarily unique (an object cannot
overlap two disjoint partners by more than half each), so counting the qualifying pairs is
enough; at 0.5 and below, a maximum one-to-one matching is computed on the sparse pair graph.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_bipartite_matching


def pixel_scores(
    pred: np.ndarray, target: np.ndarray, *, num_classes: int, ignore: int = -1
) -> dict[int, dict[str, float]]:
    """Precision, recall, F1 and IoU of each class over the pixels whose target is known.

    A class absent from both prediction and target scores 1.0 (nothing to find, nothing found);
    absent from one only, 0.0. Pixels where `target == ignore` are left out entirely.

    Shape:
        pred: (...) integer class map with values in 0..num_classes-1.
        target: same shape as pred, values in 0..num_classes-1 or `ignore`.
        Returns {class id: {"precision", "recall", "f1", "iou"}} for every class id.
    """
    confusion = confusion_matrix(pred, target, num_classes=num_classes, ignore=ignore)
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=1) - tp  # predicted c, truly something else
    fn = confusion.sum(axis=0) - tp  # truly c, predicted something else
    return {c: ratios(float(tp[c]), float(fp[c]), float(fn[c])) for c in range(num_classes)}


def confusion_matrix(
    pred: np.ndarray, target: np.ndarray, *, num_classes: int, ignore: int = -1
) -> np.ndarray:
    """Counts of (predicted class, true class) pairs over the known pixels, in one bincount.

    Shape: pred and target (...) as in `pixel_scores` -> (num_classes, num_classes) int64,
    rows = predicted class, columns = true class.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"prediction {pred.shape} and target {target.shape} differ in shape; compare maps of one image"
        )
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    _check_range(pred, num_classes, None, "prediction")
    _check_range(target, num_classes, ignore, "target")
    # In place on one int64 buffer: a 4096x4096 map takes about a tenth of a second.
    codes = pred.astype(np.intp).reshape(-1)
    codes *= num_classes
    codes += target.reshape(-1)
    codes[target.reshape(-1) == ignore] = num_classes**2  # one extra bin, dropped below
    counts = np.bincount(codes, minlength=num_classes**2 + 1)
    return counts[: num_classes**2].reshape(num_classes, num_classes)


def _check_range(values: np.ndarray, num_classes: int, ignore: int | None, name: str) -> None:
    if values.size == 0:
        return
    low, high = int(values.min()), int(values.max())
    lowest = -1 if ignore == -1 else 0
    highest = num_classes if ignore == num_classes else num_classes - 1
    if lowest <= low and high <= highest:
        return  # the common cases, decided by min and max alone
    outside = (values < 0) | (values >= num_classes)
    if ignore is not None:
        outside &= values != ignore
    if outside.any():
        bad = int(values[outside][0])
        allowed = f"0..{num_classes - 1}" + (f" or {ignore} (ignored)" if ignore is not None else "")
        raise ValueError(f"{name} holds {bad}, outside {allowed}; check num_classes or the ignore value")


def ratios(tp: float, fp: float, fn: float) -> dict[str, float]:
    """Precision, recall, F1 and IoU from true positives, false positives and false negatives."""
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

    Labels need not be consecutive; every distinct non-zero label is one object. Two empty maps
    score 1.0 everywhere. "matched", "predicted" and "true" hold the counts behind the ratios, so
    scores of several images can be pooled by summing them.

    Shape: pred_instances and true_instances (H, W) non-negative integer maps, 0 = background.
    """
    if pred_instances.shape != true_instances.shape:
        raise ValueError(
            f"instance maps differ in shape: {pred_instances.shape} vs {true_instances.shape}; "
            "compare maps of one image"
        )
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    pred, predicted = _consecutive(pred_instances, "pred_instances")
    true, n_true = _consecutive(true_instances, "true_instances")
    pred_ids, true_ids, iou = _pair_ious(pred, true, n_true)
    matched = _match(pred_ids, true_ids, iou, iou_threshold)
    result = ratios(float(matched), float(predicted - matched), float(n_true - matched))
    return {
        "precision": result["precision"],
        "recall": result["recall"],
        "f1": result["f1"],
        "matched": float(matched),
        "predicted": float(predicted),
        "true": float(n_true),
    }


def _consecutive(labels: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """Relabels objects to 1..N (0 stays background); returns the map and N."""
    flat = labels.reshape(-1)
    if flat.size == 0 or int(flat.max()) == 0:
        return np.zeros(flat.shape, dtype=np.intp), 0
    if int(flat.min()) < 0:
        raise ValueError(f"{name} holds negative labels; use 0 for background and 1..N for objects")
    if int(flat.max()) > flat.size:  # sparse huge ids: sort instead of a huge bincount
        ids, inverse = np.unique(flat, return_inverse=True)
        return (inverse if ids[0] == 0 else inverse + 1).astype(np.intp), int((ids != 0).sum())
    present = np.bincount(flat) > 0
    present[0] = False
    lookup = np.cumsum(present) * present  # label -> its rank among present labels, 0 if absent
    return lookup[flat], int(present.sum())


def _pair_ious(pred: np.ndarray, true: np.ndarray, n_true: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every (predicted, true) pair that overlaps at all, from a sparse overlap count.

    Shape: pred, true (P,) consecutive labels -> three (M,) arrays: pred id, true id, IoU.
    """
    pred_area = np.bincount(pred)
    true_area = np.bincount(true)
    both = (pred > 0) & (true > 0)
    codes, overlap = np.unique(pred[both] * (n_true + 1) + true[both], return_counts=True)
    pred_ids, true_ids = np.divmod(codes, n_true + 1)
    union = pred_area[pred_ids] + true_area[true_ids] - overlap
    return pred_ids, true_ids, overlap / union


def _match(pred_ids: np.ndarray, true_ids: np.ndarray, iou: np.ndarray, threshold: float) -> int:
    """The largest number of one-to-one pairs with IoU >= threshold."""
    keep = iou >= threshold
    if threshold > 0.5 or not keep.any():
        return int(keep.sum())
    rows = np.unique(pred_ids[keep], return_inverse=True)[1]
    cols = np.unique(true_ids[keep], return_inverse=True)[1]
    graph = csr_array((np.ones(len(rows)), (rows, cols)), shape=(rows.max() + 1, cols.max() + 1))
    partner = maximum_bipartite_matching(graph, perm_type="column")
    return int((partner >= 0).sum())


def segmentation_report(
    pred_classes: np.ndarray,
    target_classes: np.ndarray,
    *,
    num_classes: int,
    foreground: list[int],
    pred_instances: np.ndarray | None = None,
    true_instances: np.ndarray | None = None,
    ignore: int = -1,
) -> dict[str, float]:
    """Mean pixel F1 and IoU over the foreground classes, and object F1 when instances are given.

    Shape: class maps (H, W) as in `pixel_scores`; instance maps (H, W) as in `object_scores`.
    Returns {"pixel_f1", "iou"} plus "object_f1" when both instance maps are passed.
    """
    if not foreground or any(not 0 <= c < num_classes for c in foreground):
        raise ValueError(f"foreground must list class ids in 0..{num_classes - 1}, got {foreground}")
    if (pred_instances is None) != (true_instances is None):
        raise ValueError("pass both pred_instances and true_instances, or neither")
    scores = pixel_scores(pred_classes, target_classes, num_classes=num_classes, ignore=ignore)
    report = {
        "pixel_f1": float(np.mean([scores[c]["f1"] for c in foreground])),
        "iou": float(np.mean([scores[c]["iou"] for c in foreground])),
    }
    if pred_instances is not None and true_instances is not None:
        report["object_f1"] = object_scores(pred_instances, true_instances)["f1"]
    return report
