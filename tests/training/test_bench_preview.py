"""The preview-latency benchmark's quick mode: real strokes through daphne, a real worker's previews."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings


@pytest.mark.slow
def test_preview_latency_quick_times_real_previews_of_real_strokes(tmp_path):
    """In its own process: the benchmark sets Django up on a database and services of its own."""
    out = tmp_path / "preview.json"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "training.bench", "preview-latency", "--quick", "--out", str(out)],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    result = json.loads(out.read_text())
    assert result["strokes"] == 6 and result["config"]["quick"] is True
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]
    # A preview follows its save, and the worker's part is inside the whole.
    assert result["save_p50_ms"] < result["p50_ms"] and 0 < result["worker_p50_ms"] < result["p50_ms"]
    assert result["first_preview_ms"] > 0
    assert result["config"]["image"] == [256, 256] and result["config"]["preview"] == [256, 256]
    assert result["date"] and "cores" in result["machine"]
