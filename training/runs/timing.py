"""How long a run will take here: step times measured on this installation's finished runs.

Every model version a worker trains records its device and the seconds its training took
(`metrics.seconds`: the steps with their validations and previews, not loading the images or
scoring after). Divided by the patch pixels it trained on (steps x batch x patch²), that is a
time per megapixel, which scales to any other size of run. The device of the newest such version
is taken as this installation's training device; the estimate is the median over its recent
versions on that device. With none measured the estimate is unknown, never a guess.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from training.ml.config import TrainConfig
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
class Estimate:
    preset: str
    device: str
    train: TrainConfig
    seconds: float | None  # None: nothing measured on this device yet
    measured_runs: int


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


def step_timing() -> StepTiming | None:
    """The installation's training device and its median time per megapixel, from recent runs."""
    recent = (
        ModelVersion.objects.filter(kind="segmentation")
        .exclude(metrics__has_key="imported")  # trained elsewhere
        .order_by("-created_at", "-pk")
        .values_list("config", "metrics")[:RECENT_VERSIONS]
    )
    measured = [m for m in (_measurement(config, metrics) for config, metrics in recent) if m is not None]
    if not measured:
        return None
    device = measured[0][0]
    rates = [rate for on, rate in measured if on == device]
    return StepTiming(device=device, seconds_per_megapixel=statistics.median(rates), versions=len(rates))


def training_device() -> str:
    """The device runs are sized for: the newest measured run's, else the CPU."""
    timing = step_timing()
    return timing.device if timing is not None else "cpu"


def run_estimate(*, options: dict[str, Any]) -> Estimate:
    """The expected training time of a run with these options (a preset and/or sizes).

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
    )
