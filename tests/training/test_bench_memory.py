"""The prediction-memory benchmark's quick mode: it predicts a real image and reports the memory."""

from __future__ import annotations

import json

from training.bench.cli import main


def test_prediction_memory_reports_the_peak_of_a_real_prediction(tmp_path, capsys):
    out = tmp_path / "memory.json"
    assert main(["prediction-memory", "--quick", "--encoder", "resnet18", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["image"] == {"height": 512, "width": 512, "channels": 1}
    # The high-water mark includes what the process held before the image, and the image's own cost.
    assert result["peak_rss_mb"] >= result["before_image_mb"] > 0
    assert abs(result["image_cost_mb"] - (result["peak_rss_mb"] - result["before_image_mb"])) <= 1
    assert result["config"]["tile"] == 512 and result["seconds"] > 0
    assert "512x512x1: peak" in capsys.readouterr().out
