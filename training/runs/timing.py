"""How long a run will take here: step times measured on this installation's finished runs.

Every model version a worker trains records its device and the seconds its training took
(`metrics.seconds`: the steps with their validations and previews, not loading the images or
scoring after). Divided by the patch pixels it trained on (steps x batch x patch²), that is a
time per megapixel, which scales to any other size of run. The device of the newest such version
is taken as this installation's training device; the estimate is the median over its recent
versions on that device. With none measured the estimate is unknown, never a guess.

A tags run first trains its tag classifier and maps the tagged images with Score-CAM; its version
records how long each took and on how many pixels (`metrics.tag_stage`), so a tags run's estimate
adds that stage, scaled the same way: the classifier by its tile pixels (steps x batch x tile²),
the maps by the pixels of the images that will be mapped.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from training.ml.config import TrainConfig
from training.ml.scorecam import ClassifierConfig
from training.models import ModelVersion
from training.runs import presets
from training.runs.spec import UnknownOptions, train_config, version_spec

# The recent versions whose step times count; older ones may have run on other hardware.
RECENT_VERSIONS = 10
# Strategies whose `seconds` are segmentation steps (a pretrain's or forest's are not comparable).
TIMED_STRATEGIES = ("labels", "tags")


@dataclass(frozen=True)
class StepTiming:
    device: str  # "cpu" or "cuda"
    seconds_per_megapixel: float  # training seconds per million patch pixels
    versions: int  # how many finished runs it is the median of


@dataclass(frozen=True)
class TagStageTiming:
    classifier_seconds_per_megapixel: float  # per million tile pixels the classifier trains on
    maps_seconds_per_megapixel: float  # per million pixels of the images mapped
    versions: int  # how many finished tags runs it is the median of


@dataclass(frozen=True)
class TagStage:
    """A tags run's stage before the segmentation training, as the run form sets it."""

    classifier: ClassifierConfig
    mapped_megapixels: float  # the pixels of the images tagged for the run's class


@dataclass(frozen=True)
class Estimate:
    preset: str
    device: str
    train: TrainConfig
    seconds: float | None  # None: nothing measured on this device yet
    measured_runs: int
    tag_stage_seconds: float | None = None  # a tags run's classifier and maps; None: not measured
    tag_stage_runs: int = 0


def megapixels(config: TrainConfig) -> float:
    """The patch pixels a run trains on, in millions: steps x batch x patch²."""
    return config.steps * config.batch_size * config.patch_size**2 / 1e6


def _measurement(config: dict[str, Any], metrics: dict[str, Any]) -> tuple[str, float] | None:
    """(device, seconds per megapixel) of one version, or None when it cannot say."""
    try:
        spec, _ = version_spec(config)
        seconds, steps, device = float(metrics["seconds"]), int(metrics["steps"]), str(metrics["device"])
    except (KeyError, TypeError, ValueError, UnknownOptions):
        return None
    if spec.strategy not in TIMED_STRATEGIES or steps < 1 or seconds <= 0:
        return None
    trained = spec.train.replace(steps=steps)  # a run stopped early trained fewer steps
    return device.split(":")[0], seconds / megapixels(trained)


def _recent_versions(**having: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(config, metrics) of the newest segmentation versions trained here."""
    return list(
        ModelVersion.objects.filter(kind="segmentation", **having)
        .exclude(metrics__has_key="imported")  # trained elsewhere
        .order_by("-created_at", "-pk")
        .values_list("config", "metrics")[:RECENT_VERSIONS]
    )


def step_timing() -> StepTiming | None:
    """The installation's training device and its median time per megapixel, from recent runs."""
    recent = _recent_versions()
    measured = [m for m in (_measurement(config, metrics) for config, metrics in recent) if m is not None]
    if not measured:
        return None
    device = measured[0][0]
    rates = [rate for on, rate in measured if on == device]
    return StepTiming(device=device, seconds_per_megapixel=statistics.median(rates), versions=len(rates))


def _stage_rates(metrics: dict[str, Any]) -> tuple[str, float, float] | None:
    """(device, classifier and maps seconds per megapixel) of one tags version, or None."""
    try:
        stage, device = metrics["tag_stage"], str(metrics["device"])
        classifier = float(stage["classifier_seconds"]) / float(stage["classifier_megapixels"])
        maps = float(stage["maps_seconds"]) / float(stage["mapped_megapixels"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return device.split(":")[0], classifier, maps


def tag_stage_timing(device: str) -> TagStageTiming | None:
    """The median tag-stage rates of the recent tags runs on `device`; None before the first."""
    found = (_stage_rates(metrics) for _, metrics in _recent_versions(metrics__has_key="tag_stage"))
    rates = [(classifier, maps) for on, classifier, maps in filter(None, found) if on == device]
    if not rates:
        return None
    return TagStageTiming(
        classifier_seconds_per_megapixel=statistics.median(classifier for classifier, _ in rates),
        maps_seconds_per_megapixel=statistics.median(maps for _, maps in rates),
        versions=len(rates),
    )


def training_device() -> str:
    """The device runs are sized for: the newest measured run's, else the CPU."""
    timing = step_timing()
    return timing.device if timing is not None else "cpu"


def run_estimate(*, options: dict[str, Any], tag_stage: TagStage | None = None) -> Estimate:
    """The expected training time of a run with these options (a preset and/or sizes), and of a
    tags run's classifier and maps when `tag_stage` is given.

    Raises InvalidInput for a preset or size a run would refuse, with the run's own message.
    """
    timing = step_timing()
    device = timing.device if timing is not None else "cpu"
    name = presets.preset_named(options.get("preset"))
    sized = presets.with_preset(options, device=device)
    train = train_config(sized, in_channels=1, num_classes=2, defaults={})
    return Estimate(
        preset=name,
        device=device,
        train=train,
        seconds=None if timing is None else round(megapixels(train) * timing.seconds_per_megapixel, 1),
        measured_runs=0 if timing is None else timing.versions,
        **(_tag_stage_estimate(tag_stage, device) if tag_stage is not None else {}),
    )


def _tag_stage_estimate(stage: TagStage, device: str) -> dict[str, Any]:
    rates = tag_stage_timing(device)
    if rates is None:
        return {"tag_stage_seconds": None, "tag_stage_runs": 0}
    seconds = (
        stage.classifier.megapixels() * rates.classifier_seconds_per_megapixel
        + stage.mapped_megapixels * rates.maps_seconds_per_megapixel
    )
    return {"tag_stage_seconds": round(seconds, 1), "tag_stage_runs": rates.versions}
