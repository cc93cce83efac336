"""The export-memory benchmark's quick mode: a generated project exported through a real daphne."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_export_memory_quick_measures_the_web_process_while_it_streams(quick_bench_in_own_process):
    result = quick_bench_in_own_process("export-memory")
    assert result["images"] == 3 and result["size"] == 256 and result["objects"] > 0
    assert result["peak_mb"] >= result["idle_mb"] > 0
    assert abs(result["growth_mb"] - (result["peak_mb"] - result["idle_mb"])) <= 1  # each rounded
    assert result["zip_mb"] >= 0 and result["seconds"] > 0 and result["within_goal"] is True
    assert "ome" in result["formats"] and result["date"] and "cores" in result["machine"]
