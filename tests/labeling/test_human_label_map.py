"""The one human-label rule (scribbles win over the dense mask), on the cases the front end's test
reads too, and an image's human label map as training and the instant preview read it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labeling import labelmaps, selectors, services
from tests.factories import png_bytes

CASES = json.loads((Path(__file__).parent.parent / "cases" / "human_label_map.json").read_text())["cases"]


def as_map(values, case):
    if values is None:
        return None
    return np.asarray(values, dtype=np.uint16).reshape(case["height"], case["width"])


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_human_label_rule_gives_each_shared_case_its_expected_map(case):
    made = labelmaps.human_label_map(as_map(case["dense"], case), as_map(case["scribble"], case))
    expected = as_map(case["expected"], case)
    if case["dense"] is None and case["scribble"] is None:
        assert made is None
    else:
        assert made is not None and made.tolist() == expected.tolist()


@pytest.mark.django_db
def test_an_images_human_label_map_is_read_live_or_at_frozen_versions(project, users):
    (image,) = services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[services.Upload("f.png", png_bytes(np.zeros((4, 6), np.uint8)))],
    )
    assert selectors.human_label_map(image) is None
    dense = services.annotation_save(
        image=image,
        author=users["owner"],
        kind="dense",
        base_version=0,
        data={},
        mask=png_bytes(np.ones((4, 6), np.uint8)),
    )
    stroke = {"class_index": 2, "radius": 1, "points": [[1, 1]]}  # paints the 2x2 pixels at the corner
    scribble = services.annotation_save(
        image=image, author=users["annotator"], kind="scribble", base_version=0, data={"strokes": [stroke]}
    )
    now = selectors.human_label_map(image)
    assert now is not None and (now[:2, :2] == 2).all() and (now == 1).sum() == 24 - 4
    deleted = services.annotation_delete(annotation=scribble, author=users["annotator"], base_version=1)
    assert (selectors.human_label_map(image) == 1).all(), "a deleted scribble layer says nothing"
    frozen = selectors.human_label_map(image, versions={dense.pk: 1, deleted.pk: 1})
    assert frozen is not None and frozen[0, 0] == 2, "at the frozen versions the stroke is there"
    derived_only = selectors.human_label_map(image, versions={})
    assert derived_only is None
