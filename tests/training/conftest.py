"""Generated data sets in the layout of ../shared/data, for the benchmark CLI's quick runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from PIL import Image as PILImage

from labeling.synthetic import synthetic_field


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """brightfield/ + fluorescence/ + nuclei/ (0/255), as ../shared/data/aisegcell is laid out."""
    root = tmp_path_factory.mktemp("pairs")
    for sub in ("brightfield", "fluorescence", "nuclei"):
        (root / sub).mkdir()
    for n in range(4):
        field = synthetic_field(seed=n, height=96, width=96, nuclei=5)
        PILImage.fromarray(field.brightfield).save(root / "brightfield" / f"p{n}.png")
        PILImage.fromarray(field.fluorescence).save(root / "fluorescence" / f"p{n}.png")
        PILImage.fromarray((field.mask * 255).astype(np.uint8)).save(root / "nuclei" / f"p{n}.png")
    return root


# Under pytest-timeout's 600 s (pyproject.toml), so the bench is stopped here, with SIGTERM.
BENCH_TIMEOUT = 540


@pytest.fixture
def quick_bench_in_own_process(tmp_path) -> Callable[[str], dict[str, Any]]:
    """Runs `python -m training.bench COMMAND --quick` in a process of its own (the live
    benchmarks set Django up on a database and services of their own) and returns its JSON."""

    def run(command: str) -> dict[str, Any]:
        out = tmp_path / f"{command}.json"
        env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
        with subprocess.Popen(
            [sys.executable, "-m", "training.bench", command, "--quick", "--out", str(out)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as bench:
            try:
                _, stderr = bench.communicate(timeout=BENCH_TIMEOUT)
            except subprocess.TimeoutExpired:
                bench.terminate()  # not SIGKILL: on SIGTERM the bench stops the services it started
                _, stderr = bench.communicate(timeout=60)
                pytest.fail(f"{command} --quick did not finish in {BENCH_TIMEOUT} s:\n{stderr[-4000:]}")
        assert bench.returncode == 0, f"{command} --quick exited {bench.returncode}:\n{stderr[-4000:]}"
        return json.loads(out.read_text())

    return run
