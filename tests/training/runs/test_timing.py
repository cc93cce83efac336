"""The run estimate: this installation's measured step time scaled by the patch pixels of the
chosen run, "unknown" while nothing is measured, and only from runs that trained here."""

from __future__ import annotations

import pytest

from labeling.errors import InvalidInput
from tests.live.conftest import add_labelled_images
from training.ml.config import TrainConfig
from training.models import ModelVersion, TrainingRun
from training.runs import create
from training.runs.presets import CPU_PRESETS, GPU_PRESETS
from training.runs.timing import megapixels, run_estimate, step_timing

pytestmark = pytest.mark.django_db

# 100 steps of 4 patches of 64 px: 1.6384 megapixels.
MEASURED = {"steps": 100, "steps_per_epoch": 50, "batch_size": 4, "patch_size": 64}


@pytest.fixture
def labelled(project, users):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    return project


def finished(project, user, *, seconds: float, device: str = "cpu", steps: int = 100, **metrics):
    """A model version as the worker stores it after training MEASURED."""
    config = create.run_create(project=project, user=user, options=dict(MEASURED)).config
    run = TrainingRun.objects.create(project=project, created_by=user, state="succeeded", config=config)
    return ModelVersion.objects.create(
        project=project,
        run=run,
        weights="models/none.pt",
        config={**config, "ranges": [[0.0, 255.0]]},
        metrics={"device": device, "seconds": seconds, "steps": steps, **metrics},
    )


def test_megapixels_are_steps_times_batch_times_patch_area():
    assert megapixels(TrainConfig(steps=100, batch_size=4, patch_size=64)) == pytest.approx(1.6384)


def test_with_no_run_finished_the_estimate_is_unknown(labelled):
    assert step_timing() is None
    estimate = run_estimate(options={"preset": "quick"})
    assert estimate.seconds is None and estimate.measured_runs == 0
    assert estimate.device == "cpu" and estimate.train.steps == CPU_PRESETS["quick"]["steps"]


def test_the_estimate_scales_the_measured_time_by_pixels_per_step(labelled, users):
    finished(labelled, users["manager"], seconds=16.384)  # 10 s per megapixel
    timing = step_timing()
    assert timing is not None and timing.seconds_per_megapixel == pytest.approx(10.0)
    quick = CPU_PRESETS["quick"]  # 150 x 8 x 128²: 19.6608 megapixels
    assert run_estimate(options={"preset": "quick"}).seconds == pytest.approx(196.6)
    # Explicit sizes win over the preset's: twice the steps, half the batch, the same time.
    doubled = run_estimate(options={"preset": "quick", "steps": 2 * quick["steps"], "batch_size": 4})
    assert doubled.seconds == pytest.approx(196.6) and doubled.train.batch_size == 4


def test_the_estimate_is_the_median_of_recent_runs_on_the_newest_runs_device(labelled, users):
    manager = users["manager"]
    for seconds in (16.384, 32.768, 163.84):  # 10, 20 and 100 s per megapixel on the CPU
        finished(labelled, manager, seconds=seconds)
    assert step_timing().seconds_per_megapixel == pytest.approx(20.0)
    finished(labelled, manager, seconds=1.6384, device="cuda")  # 1 s per megapixel
    timing = step_timing()
    assert (timing.device, timing.versions, timing.seconds_per_megapixel) == ("cuda", 1, pytest.approx(1.0))
    estimate = run_estimate(options={})
    assert estimate.train.steps == GPU_PRESETS["standard"]["steps"]
    assert estimate.seconds == pytest.approx(round(megapixels(estimate.train), 1))


def test_a_run_stopped_early_counts_the_steps_it_trained(labelled, users):
    finished(labelled, users["manager"], seconds=8.192, steps=50)  # half of MEASURED's steps
    assert step_timing().seconds_per_megapixel == pytest.approx(10.0)


def test_imported_versions_and_other_kinds_are_not_measurements_of_this_machine(labelled, users):
    manager = users["manager"]
    finished(labelled, manager, seconds=1.0, imported={"from": {"app": "elsewhere"}})
    encoder = finished(labelled, manager, seconds=1.0)
    encoder.kind = "encoder"
    encoder.save(update_fields=["kind"])
    assert step_timing() is None


def test_an_estimate_refuses_what_a_run_would(labelled):
    with pytest.raises(InvalidInput, match="preset must be one of quick, standard, thorough"):
        run_estimate(options={"preset": "slow"})
    with pytest.raises(InvalidInput, match="multiple of 32"):
        run_estimate(options={"patch_size": 100})


def test_the_estimate_endpoint_answers_members_with_the_presets_and_the_time(labelled, users, client_for):
    url = f"/api/projects/{labelled.pk}/run-estimate/"
    unknown = client_for("viewer").get(url, {"preset": "quick"}).json()
    assert unknown["estimate"] == "unknown" and unknown["seconds"] is None
    assert unknown["presets"] == CPU_PRESETS and unknown["default_preset"] == "standard"
    assert (unknown["preset"], unknown["steps"], unknown["patch_size"]) == ("quick", 150, 128)
    finished(labelled, users["manager"], seconds=16.384)
    measured = client_for("viewer").get(url, {"preset": "quick", "steps": 200}).json()
    assert measured["estimate"] == "measured" and measured["measured_runs"] == 1
    assert measured["seconds"] == pytest.approx(262.1) and measured["steps"] == 200  # 200 x 8 x 128²
    assert client_for("stranger").get(url).status_code == 404


@pytest.mark.parametrize(
    "query, says",
    [
        ({"preset": "slow"}, "quick, standard, thorough"),
        ({"patch_size": "100"}, "multiple of 32"),
        ({"batch_size": "0"}, "batch_size"),
        ({"steps": "ten"}, "steps"),
    ],
)
def test_the_estimate_endpoint_refuses_bad_options_with_a_400(labelled, client_for, query, says):
    answer = client_for("viewer").get(f"/api/projects/{labelled.pk}/run-estimate/", query)
    assert answer.status_code == 400 and says in str(answer.json())
