"""Run presets: a run request names one, its own options win over it, a bad name is a 400 that
lists the valid ones, and a request naming none gets the default preset, sized for the device
this installation trains on."""

from __future__ import annotations

import pytest

from labeling.errors import InvalidInput
from tests.live.conftest import add_labelled_images
from tests.versions import finished_run_version
from training.models import ModelVersion, TrainingRun
from training.runs import create, presets
from training.runs.presets import CPU_PRESETS, GPU_PRESETS, preset_named, with_preset
from training.runs.spec import RunSpec
from training.runs.timing import training_device

pytestmark = pytest.mark.django_db


def sizes(run: TrainingRun) -> dict[str, int]:
    train = RunSpec.from_json(run.config).train
    return {key: getattr(train, key) for key in presets.PRESET_KEYS}


def finished_version(project, user, *, device: str) -> ModelVersion:
    """A model version as a worker stores it: its spec, device, training seconds and steps."""
    spec = RunSpec.from_json(
        create.run_create(project=project, user=user, options={"preset": "quick"}).config
    )
    metrics = {"device": device, "seconds": 60.0, "steps": spec.train.steps}
    return finished_run_version(
        project, user, spec, weights="models/none.pt", ranges=[(0.0, 255.0)], metrics=metrics
    )


def test_every_preset_names_the_same_sizes_on_every_device():
    for table in (CPU_PRESETS, GPU_PRESETS):
        assert tuple(table) == presets.PRESET_NAMES
        assert all(tuple(values) == presets.PRESET_KEYS for values in table.values())
        steps = [table[name]["steps"] * table[name]["batch_size"] for name in presets.PRESET_NAMES]
        assert steps == sorted(steps) and len(set(steps)) == 3  # quick < standard < thorough
        # Warm-up as the run form makes it (run-config.ts), so a preset's sizes read back as it.
        assert all(v["warmup_steps"] == max(1, min(50, round(v["steps"] / 10))) for v in table.values())


def test_a_preset_fills_in_only_the_options_the_request_leaves_out():
    assert with_preset({"preset": "quick"}, device="cpu") == CPU_PRESETS["quick"]
    assert with_preset({"preset": "quick", "steps": 7, "encoder": "resnet34"}, device="cpu") == {
        **CPU_PRESETS["quick"],
        "steps": 7,
        "encoder": "resnet34",
    }
    assert with_preset({}, device="cpu") == CPU_PRESETS[presets.DEFAULT_PRESET]
    assert with_preset({"preset": "thorough"}, device="cuda") == GPU_PRESETS["thorough"]
    assert with_preset({"preset": "thorough"}, device="mps") == CPU_PRESETS["thorough"]


@pytest.mark.parametrize("name", ["fast", "", "QUICK", 3, ["quick"]])
def test_a_preset_that_does_not_exist_is_refused_with_the_valid_names(name):
    with pytest.raises(
        InvalidInput, match=r"preset must be one of quick, standard, thorough \(default standard\)"
    ):
        preset_named(name)


def test_a_run_request_names_a_preset_and_its_own_options_win(project, users):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    manager = users["manager"]
    quick = create.run_create(project=project, user=manager, options={"preset": "quick"})
    assert sizes(quick) == CPU_PRESETS["quick"]
    mixed = create.run_create(project=project, user=manager, options={"preset": "thorough", "batch_size": 2})
    assert sizes(mixed) == {**CPU_PRESETS["thorough"], "batch_size": 2}
    # An API caller of before presets, who names its sizes, gets exactly those.
    explicit = {"steps": 30, "steps_per_epoch": 10, "warmup_steps": 5, "batch_size": 4, "patch_size": 64}
    assert sizes(create.run_create(project=project, user=manager, options=explicit)) == explicit


def test_a_request_naming_no_preset_gets_the_default_one_for_the_cpu(project, users):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    run = create.run_create(project=project, user=users["manager"], options={})
    assert sizes(run) == CPU_PRESETS["standard"]


def test_runs_are_sized_for_a_gpu_once_one_has_trained_here(project, users):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    assert training_device() == "cpu"
    finished_version(project, users["manager"], device="cuda")
    assert training_device() == "cuda"
    run = create.run_create(project=project, user=users["manager"], options={"preset": "quick"})
    assert sizes(run) == GPU_PRESETS["quick"]


def test_a_bad_preset_in_a_run_request_is_a_400_and_starts_nothing(project, users, client_for):
    add_labelled_images(project, users["owner"], count=1, validation=0)
    answer = client_for("manager").post(
        f"/api/projects/{project.pk}/runs/", {"config": {"preset": "fast"}}, format="json"
    )
    assert answer.status_code == 400
    assert "quick, standard, thorough" in str(answer.json())
    assert not TrainingRun.objects.exists()
