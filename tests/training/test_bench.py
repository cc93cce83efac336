"""The benchmark CLI's quick mode on tiny generated data sets: what CI runs of the benchmarks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import torch
from django.conf import settings
from PIL import Image as PILImage

from labeling.synthetic import synthetic_field
from training.bench import efficiency as bench
from training.bench.cli import main, parser
from training.bench.common import Outcome, ensemble_run, load_split
from training.bench.datasets import Item, load_folder
from training.bench.seeds import spread
from training.ml.scribbles import simulate_scribbles

RUN_KEYS = {
    "train_images",
    "labels",
    "pixel_f1",
    "pixel_precision",
    "pixel_recall",
    "iou",
    "object_f1",
    "train_seconds",
    "peak_rss_mb",
    "per_image",
}
# label-efficiency runs also say the learning rate they trained with (fine-tuning may differ).
EFFICIENCY_KEYS = RUN_KEYS | {"learning_rate", "freeze_encoder", "seed"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Both conventions of ../shared/data: images/ + labels/, brightfield/ + nuclei/."""
    root = tmp_path_factory.mktemp("data")
    for sub in ("set/images", "set/labels", "pairs/brightfield", "pairs/nuclei"):
        (root / sub).mkdir(parents=True)
    for n in range(4):
        field = synthetic_field(seed=n, height=96, width=96, nuclei=5)
        PILImage.fromarray(field.fluorescence).save(root / "set/images" / f"f{n}.png")
        PILImage.fromarray(field.instances).save(root / "set/labels" / f"f{n}.png")
        PILImage.fromarray(field.brightfield).save(root / "pairs/brightfield" / f"p{n}.png")
        PILImage.fromarray((field.mask * 255).astype(np.uint8)).save(root / "pairs/nuclei" / f"p{n}.png")
    return root


def test_the_loader_reads_both_conventions(folders):
    items = load_folder(folders / "set")
    assert [i.name for i in items] == ["f0", "f1", "f2", "f3"]
    assert items[0].image.shape == (1, 96, 96) and items[0].image.dtype == np.uint16
    pairs = load_folder(folders / "pairs", input_channel="brightfield")
    assert pairs[0].instances.max() >= 1 and set(np.unique(pairs[0].classes)) == {0, 1}
    with pytest.raises(ValueError, match="neither"):
        load_folder(folders / "pairs", input_channel="fluorescence")


def test_the_split_takes_half_by_default_and_refuses_a_test_count_of_zero(folders):
    def split_of(*argv: str) -> tuple[list[str], list[str]]:
        train, test = load_split(parser().parse_args(["peer", "--data", str(folders / "set"), *argv]))
        return [i.name for i in train], [i.name for i in test]

    assert split_of() == (["f0", "f1"], ["f2", "f3"])
    assert split_of("--test-count", "1") == (["f0", "f1", "f2"], ["f3"])
    with pytest.raises(ValueError, match="--test-count 0: give 1 to 3"):
        split_of("--test-count", "0")  # once silently half


@pytest.mark.parametrize(
    ("command", "labels"),
    [("label-efficiency", "dense"), ("label-efficiency", "scribbles"), ("peer", "scribbles")],
)
def test_quick_runs_write_the_documented_json(folders, tmp_path, command, labels):
    out = tmp_path / "result.json"
    augment = command == "label-efficiency" and labels == "scribbles"
    main(
        [
            command,
            "--data",
            str(folders / "set"),
            "--test-count",
            "2",
            "--sizes",
            "1,2",
            "--labels",
            labels,
            "--quick",
            "--out",
            str(out),
            *(["--test-time-augmentation"] if augment else []),
        ]
    )
    result = json.loads(out.read_text())
    assert result["config"]["test_time_augmentation"] is augment
    assert torch.backends.cpu.get_cpu_capability() in result["config"]["machine"]
    assert [run["train_images"] for run in result["runs"]] == [1, 2]
    items = load_folder(folders / "set")
    test_items = items[2:]
    for run in result["runs"]:
        keys = EFFICIENCY_KEYS if command == "label-efficiency" else RUN_KEYS | {"seed"}
        assert set(run) == (keys | {"scribbled_fraction"} if labels == "scribbles" else keys)
        assert run["labels"] == labels
        if labels == "scribbles":  # what the strokes on the images trained on cover, at most the budget
            strokes = [
                simulate_scribbles(item.classes, budget=0.05, seed=0, instances=item.instances)
                for item in items[: run["train_images"]]
            ]
            covered = (np.concatenate([stroke.ravel() for stroke in strokes]) >= 0).mean()
            assert run["scribbled_fraction"] == pytest.approx(covered, abs=1e-5)
            assert 0 < run["scribbled_fraction"] <= 0.05 + 0.01
        for metric in ("pixel_f1", "pixel_precision", "pixel_recall", "iou", "object_f1"):
            assert 0.0 <= run[metric] <= 1.0, metric
        assert [image["name"] for image in run["per_image"]] == ["f2", "f3"]
        for image, item in zip(run["per_image"], test_items, strict=True):
            assert image["object_fraction"] == pytest.approx((item.instances > 0).mean(), abs=1e-4)
            assert 0.0 <= image["pixel_f1"] <= 1.0
    assert result["config"]["test"] == ["f2", "f3"] and "incomplete" not in result


def test_seeds_train_once_each_and_report_their_spread_and_ensemble(folders, tmp_path):
    out = tmp_path / "seeds.json"
    arguments = ["label-efficiency", "--data", str(folders / "set"), "--test-count", "2", "--sizes", "2"]
    main([*arguments, "--quick", "--seeds", "3,5", "--out", str(out)])
    result = json.loads(out.read_text())
    single, other, ensemble = result["runs"]
    assert (single["seed"], other["seed"]) == (3, 5)
    assert ensemble["ensemble_of_seeds"] == [3, 5] and ensemble["train_images"] == 2
    assert ensemble["train_seconds"] == pytest.approx(
        single["train_seconds"] + other["train_seconds"], abs=0.2
    )
    [summary] = result["summary"]
    assert summary["seeds"] == [3, 5]
    assert summary["pixel_f1"]["mean"] == pytest.approx(
        (single["pixel_f1"] + other["pixel_f1"]) / 2, abs=1e-4
    )
    assert summary["pixel_f1"]["ensemble"] == pytest.approx(ensemble["pixel_f1"], abs=1e-4)
    # --seed alone trains once with that seed and adds no summary.
    alone = tmp_path / "alone.json"
    main([*arguments, "--quick", "--seed", "3", "--out", str(alone)])
    [run] = json.loads(alone.read_text())["runs"]
    assert run["seed"] == 3 and "summary" not in json.loads(alone.read_text())


def test_a_curve_stopped_part_way_keeps_the_points_it_finished(folders, tmp_path, monkeypatch):
    out = tmp_path / "curve.json"
    efficiency_run = bench.efficiency_run
    trained = []

    def stopped_after_one(*args, **kwargs):
        if trained:
            raise KeyboardInterrupt  # the person running it, or the session's end, stops it
        trained.append(len(args[2]))
        return efficiency_run(*args, **kwargs)

    monkeypatch.setattr(bench, "efficiency_run", stopped_after_one)
    arguments = ["--data", str(folders / "set"), "--test-count", "2", "--sizes", "1,2", "--quick"]
    with pytest.raises(KeyboardInterrupt):
        main(["label-efficiency", *arguments, "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["incomplete"] is True and saved["config"]["test"] == ["f2", "f3"]
    [run] = saved["runs"]
    assert trained == [1] and run["train_images"] == 1 and set(run) == EFFICIENCY_KEYS
    assert [path.name for path in tmp_path.iterdir()] == ["curve.json"]  # nothing half-written


def test_the_ensemble_averages_probabilities_before_calling_objects():
    truth = np.array([[0, 1, 1, 0]])
    item = Item("field", np.zeros((1, 1, 4), np.uint8), truth.astype(np.uint16))

    def outcome(seed, probabilities):
        run = {"seed": seed, "train_images": 1, "labels": "dense", "train_seconds": 1.0, "peak_rss_mb": 100}
        run.update(pixel_f1=0.5, iou=0.3, object_f1=0.4)
        return Outcome(run, [np.array([probabilities], np.float32)])

    # Pixel by pixel the means are 0.3, 0.55, 0.6, 0.45: only the middle two are objects, as
    # neither model alone says (the first calls pixels 0-1, the second pixels 2-3).
    outcomes = [outcome(0, [0.6, 0.9, 0.3, 0.1]), outcome(1, [0.0, 0.2, 0.9, 0.8])]
    ensemble = ensemble_run(outcomes, [item])
    assert ensemble["pixel_f1"] == 1.0 and ensemble["ensemble_of_seeds"] == [0, 1]
    summary = spread([outcome.run for outcome in outcomes], ensemble)
    assert summary["pixel_f1"] == {
        "values": [0.5, 0.5],
        "mean": 0.5,
        "sd": 0.0,
        "min": 0.5,
        "max": 0.5,
        "ensemble": 1.0,
    }


@pytest.mark.parametrize("seeds", ["0,0", "a,b", ","])
def test_seeds_must_be_distinct_whole_numbers(folders, seeds, capsys):
    with pytest.raises(SystemExit):
        main(["label-efficiency", "--data", str(folders / "set"), "--seeds", seeds, "--quick"])
    assert "--seeds" in capsys.readouterr().err


def test_quick_overhead_compares_both_loops(folders, tmp_path):
    out = tmp_path / "overhead.json"
    main(
        [
            "overhead",
            "--data",
            str(folders / "pairs"),
            "--input-channel",
            "brightfield",
            "--test-count",
            "1",
            "--quick",
            "--out",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    assert result["steps"] == 20
    assert result["ours_steps_per_second"] > 0 and result["bare_steps_per_second"] > 0
    assert result["overhead"] == pytest.approx(
        result["bare_steps_per_second"] / result["ours_steps_per_second"] - 1, abs=0.01
    )


def _is_worker(process: psutil.Process) -> bool:
    try:
        return "dramatiq" in " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_a_terminated_bench_stops_the_services_it_started(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    out = str(tmp_path / "latency.json")
    command = [sys.executable, "-m", "training.bench", "live-latency", "--quick", "--out", out]
    bench = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        services: list[psutil.Process] = []
        while time.monotonic() < deadline and bench.poll() is None:
            services = psutil.Process(bench.pid).children(recursive=True)
            if any(_is_worker(child) for child in services):
                break
            time.sleep(0.5)
        assert any(_is_worker(child) for child in services), "no worker started"
        bench.terminate()
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(services, timeout=30)
        assert not alive, f"left running: {[' '.join(p.cmdline()) for p in alive]}"
    finally:
        for process in (psutil.Process(bench.pid), *services) if bench.poll() is None else services:
            if process.is_running():
                process.kill()


@pytest.mark.slow
def test_live_latency_quick_measures_real_events_from_a_worker(quick_bench_in_own_process):
    result = quick_bench_in_own_process("live-latency")
    assert result["events"] >= 200
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]
    assert result["throughput"]["without_steps_per_second"] > 0
    assert result["throughput"]["with_steps_per_second"] > 0
