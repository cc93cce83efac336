"""The preview-latency benchmark's quick mode: real strokes through daphne, a real worker's previews."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_preview_latency_quick_times_real_previews_of_real_strokes(quick_bench_in_own_process):
    result = quick_bench_in_own_process("preview-latency")
    assert result["strokes"] == 6 and result["config"]["quick"] is True
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]
    # A preview follows its save, and the worker's part is inside the whole.
    assert result["save_p50_ms"] < result["p50_ms"] and 0 < result["worker_p50_ms"] < result["p50_ms"]
    assert result["first_preview_ms"] > 0
    assert result["config"]["image"] == [256, 256] and result["config"]["preview"] == [256, 256]
    assert result["date"] and "cores" in result["machine"]
