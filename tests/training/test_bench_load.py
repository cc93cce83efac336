"""The load benchmark's quick mode: real annotators (locust) against daphne and real workers."""

from __future__ import annotations

import pytest

from labeling import services
from tests.factories import field_png
from training.bench import load


@pytest.mark.slow
def test_load_quick_keeps_every_acknowledged_stroke_of_two_annotators(quick_bench_in_own_process):
    result = quick_bench_in_own_process("load")
    (phase,) = result["phases"]
    assert phase["users"] == 2 and result["config"]["quick"] is True
    assert result["config"]["database"] == "embedded" and result["config"]["redis"] == "embedded"
    # Two people painting for a few seconds save something, and the server keeps all of it.
    assert phase["saves"] > 0 and phase["saves_per_second"] > 0
    assert phase["lost"] == 0 and result["lost"] == 0
    assert phase["errors"] == 0 and phase["errors_by_status"] == {}
    assert phase["database_locked"] == {"answers": 0, "log_lines": 0}
    assert 0 < phase["save_p50_ms"] <= phase["save_p95_ms"] <= phase["save_p99_ms"]
    # The page's reads were made too, and the run trained while they painted.
    assert {"image", "display.png", "annotations", "save"} <= set(phase["requests"])
    assert phase["training"]["state_at_end"] == "running"
    assert result["date"] and "cores" in result["machine"]


@pytest.fixture
def image(project, users):
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("f.png", field_png(size=64))]
    )
    return image


STROKE = {"class_index": 2, "radius": 3.0, "points": [[10.0, 12.5], [20.0, 12.5]]}


@pytest.mark.django_db
def test_an_acknowledged_stroke_is_lost_unless_its_version_holds_what_was_sent(image, users):
    layer = services.annotation_save(
        image=image, author=users["annotator"], kind="scribble", base_version=0, data={"strokes": [STROKE]}
    )
    kept = {"annotation": layer.pk, "version": 1, "strokes": [STROKE]}
    assert load._lost([kept]) == 0
    other = {**STROKE, "points": [[11.0, 12.5], [20.0, 12.5]]}
    # Another stroke at that version, a version never written, one version answered twice.
    assert load._lost([{**kept, "strokes": [other]}]) == 1
    assert load._lost([{**kept, "version": 2}]) == 1
    assert load._lost([kept, kept]) == 1
