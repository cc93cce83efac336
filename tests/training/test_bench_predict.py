"""The predict-throughput benchmark's quick mode: generated fields through the job's pipeline and
a bare forward pass over the same tiles, with every number it reports."""

from __future__ import annotations

import json

from training.bench.__main__ import main


def test_predict_throughput_compares_the_job_with_a_bare_forward_pass(tmp_path, capsys):
    out = tmp_path / "predict.json"
    assert main(["predict-throughput", "--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    for key in (
        "images",
        "megapixels",
        "seconds",
        "megapixels_per_second",
        "bare_megapixels_per_second",
        "overhead",
        "peak_rss_mb",
    ):
        assert key in result, key
    assert result["images"] == 3 and result["largest_field"] == [256, 256]
    assert result["megapixels"] == round(3 * 256 * 256 / 1e6, 2)
    megapixels = 3 * 256 * 256 / 1e6  # "megapixels" itself is rounded to 0.01
    # "seconds" is rounded to 0.01 and the rate to 0.001: the rate lies between the bounds those allow.
    seconds = result["seconds"]
    assert megapixels / (seconds + 0.005) - 0.0005 <= result["megapixels_per_second"]
    assert result["megapixels_per_second"] <= megapixels / (seconds - 0.005) + 0.0005
    bare = result["bare_seconds"]
    assert (seconds - 0.005) / (bare + 0.005) - 1.0005 <= result["overhead"]
    assert result["overhead"] <= (seconds + 0.005) / (bare - 0.005) - 0.9995
    assert result["bare_megapixels_per_second"] > 0
    assert result["tiles"] == 3 * 9  # 128-px tiles, 64 px apart, over 256 px: 3 x 3 each
    assert result["peak_rss_mb"] > 0 and set(result["stage_seconds"]) == {
        "read",
        "analyse",
        "encode",
        "store",
    }
    assert "overhead" in capsys.readouterr().out
