"""The run estimate: this installation's measured step time scaled by the patch pixels of the
chosen run, "unknown" while nothing is measured, and only from runs that trained here."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import services
from labeling.errors import InvalidInput
from labeling.models import Split
from labeling.selectors import tagged_megapixels
from tests.factories import png_bytes
from tests.live.conftest import add_labelled_images
from training.ml.config import TrainConfig
from training.ml.scorecam import ClassifierConfig
from training.models import ModelVersion, TrainingRun
from training.runs import create
from training.runs.presets import CPU_PRESETS, GPU_PRESETS
from training.runs.timing import TagStage, megapixels, run_estimate, step_timing, tag_stage_timing

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


def tags_finished(project, user, *, classifier_seconds: float, maps_seconds: float, device: str = "cpu"):
    """A tags run's version: its classifier trained on 2 megapixels of tiles, its maps covered 0.5."""
    stage = {
        "classifier_seconds": classifier_seconds,
        "classifier_megapixels": 2.0,
        "maps_seconds": maps_seconds,
        "mapped_megapixels": 0.5,
    }
    return finished(project, user, seconds=16.384, device=device, tag_stage=stage)


def tag_image(project, user, label_class, *, width: int, height: int, split: str = Split.TRAIN, kind="tag"):
    (image,) = services.image_ingest(
        project=project,
        uploader=user,
        uploads=[
            services.Upload(
                f"{kind}-{width}x{height}-{split}.png", png_bytes(np.zeros((height, width), np.uint8))
            )
        ],
    )
    if split != Split.TRAIN:
        image = services.image_update(image=image, split=split)
    data = {"present": True} if kind == "tag" else {"tiles": [[0, 0, min(width, 32), min(height, 32), True]]}
    services.annotation_save(
        image=image, author=user, kind=kind, base_version=0, data=data, label_class=label_class
    )
    return image


def test_a_tags_estimate_adds_the_classifier_and_the_maps_scaled_by_their_pixels(labelled, users):
    manager = users["manager"]
    for classifier, maps in ((20.0, 1.0), (40.0, 2.0), (200.0, 3.0)):  # 10/20/100 and 2/4/6 s per megapixel
        tags_finished(labelled, manager, classifier_seconds=classifier, maps_seconds=maps)
    rates = tag_stage_timing("cpu")
    assert rates is not None and rates.versions == 3
    assert (rates.classifier_seconds_per_megapixel, rates.maps_seconds_per_megapixel) == (20.0, 4.0)
    stage = TagStage(classifier=ClassifierConfig(depth=3, tile_size=64, steps=100), mapped_megapixels=1.5)
    estimate = run_estimate(options={"preset": "quick"}, tag_stage=stage)
    # 100 steps x 32 tiles x 64² = 13.1072 megapixels at 20 s, and 1.5 megapixels of maps at 4 s.
    assert estimate.tag_stage_seconds == pytest.approx(268.1) and estimate.tag_stage_runs == 3
    assert estimate.seconds is not None, "the segmentation training is estimated as for any run"
    assert run_estimate(options={"preset": "quick"}).tag_stage_seconds is None, "asked only for tags runs"


def test_the_tag_stage_is_timed_on_the_training_device_only(labelled, users):
    manager = users["manager"]
    tags_finished(labelled, manager, classifier_seconds=20.0, maps_seconds=1.0, device="cpu")
    assert tag_stage_timing("cuda") is None
    finished(labelled, manager, seconds=16.384)  # a labels run: no tag stage to measure
    assert tag_stage_timing("cpu").versions == 1
    stage = TagStage(classifier=ClassifierConfig(depth=3), mapped_megapixels=1.0)
    finished(labelled, manager, seconds=1.6384, device="cuda")  # the newest run trained on the GPU
    estimate = run_estimate(options={}, tag_stage=stage)
    assert estimate.device == "cuda" and estimate.tag_stage_seconds is None and estimate.tag_stage_runs == 0


def test_tagged_megapixels_count_the_live_training_images_tagged_for_the_class(labelled, users, nucleus):
    owner = users["owner"]
    tag_image(labelled, owner, nucleus, width=100, height=50)
    tag_image(labelled, owner, nucleus, width=64, height=64, kind="tiles")
    tag_image(labelled, owner, nucleus, width=80, height=80, split=Split.VALIDATION)  # not trained on
    other = services.label_class_create(project=labelled, name="artifact", color="#00ff00")
    tag_image(labelled, owner, other, width=200, height=200)  # another class's tag
    assert tagged_megapixels(labelled, nucleus) == pytest.approx((100 * 50 + 64 * 64) / 1e6)
    assert tagged_megapixels(labelled, other) == pytest.approx(200 * 200 / 1e6)


def test_the_estimate_endpoint_adds_a_tags_runs_stage_once_one_was_measured(
    labelled, users, nucleus, client_for
):
    tag_image(labelled, users["owner"], nucleus, width=500, height=200)  # 0.1 megapixels to map
    url = f"/api/projects/{labelled.pk}/run-estimate/"
    query = {
        "preset": "quick",
        "strategy": "tags",
        "tag_class": nucleus.pk,
        "tile": 64,
        "classifier_steps": 100,
    }
    unknown = client_for("viewer").get(url, query).json()
    assert unknown["tag_stage_seconds"] is None and unknown["tag_stage_runs"] == 0
    tags_finished(labelled, users["manager"], classifier_seconds=20.0, maps_seconds=2.0)  # 10 and 4 s/MP
    measured = client_for("viewer").get(url, query).json()
    assert measured["tag_stage_runs"] == 1
    assert measured["tag_stage_seconds"] == pytest.approx(13.1072 * 10 + 0.1 * 4, abs=0.05)
    assert client_for("viewer").get(url, {"preset": "quick"}).json()["tag_stage_seconds"] is None


@pytest.mark.parametrize(
    "query, says",
    [
        ({"strategy": "guess"}, "strategy"),
        ({"strategy": "tags"}, "tag_class must be the id of a class of this project"),
        ({"strategy": "tags", "tag_class": "999999"}, "tag_class must be the id of a class of this project"),
        ({"strategy": "tags", "tag_class": "CLASS", "tile": "100"}, "multiple of 8"),
        ({"strategy": "tags", "tag_class": "CLASS", "classifier_steps": "0"}, "classifier_steps"),
        ({"strategy": "tags", "tag_class": "CLASS", "tile": "a lot"}, "tile"),
    ],
)
def test_the_estimate_endpoint_refuses_bad_tag_options_with_a_400(labelled, nucleus, client_for, query, says):
    query = {key: str(nucleus.pk) if value == "CLASS" else value for key, value in query.items()}
    answer = client_for("viewer").get(f"/api/projects/{labelled.pk}/run-estimate/", query)
    assert answer.status_code == 400 and says in str(answer.json())
