"""Run presets: "quick", "standard" and "thorough" sizes of training, one table per device.

A request names one (`"preset": "quick"` in its config); the options it gives itself win over the
preset's. A request that names none gets DEFAULT_PRESET, so an API caller that sends only labels
and a strategy gets a run that fits the machine. Which table applies is the device of this
installation's training workers as last seen (training/runs/timing.py): the CPU table until a run
has trained on a GPU. Measured sizes and minutes are in bench/README.md; the user's side is in
docs/guide.md ("Presets").
"""

from __future__ import annotations

from typing import Any

from labeling.errors import InvalidInput

PRESET_NAMES = ("quick", "standard", "thorough")
DEFAULT_PRESET = "standard"
# The TrainConfig fields a preset sets; every other option keeps its own default. Warm-up is a
# tenth of the steps up to 50, as the run form makes it (frontend/src/pages/run-config.ts).
PRESET_KEYS = ("steps", "steps_per_epoch", "warmup_steps", "batch_size", "patch_size")


def _sizes(*, steps: int, steps_per_epoch: int, batch_size: int, patch_size: int) -> dict[str, int]:
    """A preset's PRESET_KEYS, warm-up derived from the steps as the form derives it."""
    return {
        "steps": steps,
        "steps_per_epoch": steps_per_epoch,
        "warmup_steps": min(50, steps // 10),
        "batch_size": batch_size,
        "patch_size": patch_size,
    }


# On 2 CPU cores a step of 16 patches of 128 px took about 0.7 s (Unet + resnet18; bbbc039, 500
# steps in 340 s), so 8 patches about 0.35 s, validation aside: quick is about a minute, standard
# about three, thorough under twenty (bench/README.md). Patches of 128 px scored bbbc039 as well as
# 256 px (pixel F1 0.97 at 500 steps), and 1500 steps were aisegcell's best.
CPU_PRESETS = {
    "quick": _sizes(steps=150, steps_per_epoch=50, batch_size=8, patch_size=128),
    "standard": _sizes(steps=500, steps_per_epoch=100, batch_size=8, patch_size=128),
    "thorough": _sizes(steps=1500, steps_per_epoch=150, batch_size=16, patch_size=128),
}
# A GPU trains a batch of 16 patches of 256 px in a few hundredths of a second (not yet measured
# here: bench/README.md), so its presets see more context and more steps.
GPU_PRESETS = {
    "quick": _sizes(steps=500, steps_per_epoch=100, batch_size=16, patch_size=256),
    "standard": _sizes(steps=2000, steps_per_epoch=200, batch_size=16, patch_size=256),
    "thorough": _sizes(steps=5000, steps_per_epoch=500, batch_size=32, patch_size=256),
}


def presets_for(device: str) -> dict[str, dict[str, int]]:
    """The preset table of a device ("cuda" or "cpu"; anything else trains like a CPU)."""
    return GPU_PRESETS if device == "cuda" else CPU_PRESETS


def preset_named(raw: Any) -> str:
    """The preset a request names (DEFAULT_PRESET when it names none); a 400 listing the valid ones."""
    if raw is None:
        return DEFAULT_PRESET
    if not isinstance(raw, str) or raw not in PRESET_NAMES:
        raise InvalidInput(f"preset must be one of {', '.join(PRESET_NAMES)} (default {DEFAULT_PRESET}).")
    return raw


def with_preset(options: dict[str, Any], *, device: str) -> dict[str, Any]:
    """The options without "preset", over the named preset's sizes for `device`."""
    options = dict(options)
    name = preset_named(options.pop("preset", None))
    return {**presets_for(device)[name], **options}
