"""A model version's BioImage.IO description (rdf.yaml, format 0.5) and its README (pure).

The input is the raw image (channels in the version's order, as float32); its preprocessing is the
app's own normalisation written in the spec's terms: with the channel ranges the version carries,
`scale_linear` (gain 1 / (high - low), offset -low / (high - low) per channel) then `clip` to
[-1, 2] (training/ml/data.py `normalize`); a version without ranges scales each image by its own
1st and 99.8th percentiles (`scale_range`). The output is the class probabilities, one channel per
class, named by the project's class names. Everything Lesslabel needs to import the package again
is under `config.lesslabel` (the description every exported format carries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FORMAT_VERSION = "0.5.14"  # bioimageio.spec's current model format (tests check it is the one installed)
CLIP = (-1.0, 2.0)  # normalize() clips to this
PERCENTILES = (1.0, 99.8)  # normalize()'s own percentiles, for versions without fixed ranges
CITATIONS = {
    "unet": ("Ronneberger et al. 2015, U-Net", "10.1007/978-3-319-24574-4_28"),
    "unetplusplus": ("Zhou et al. 2018, UNet++", "10.1007/978-3-030-00889-5_1"),
    "fpn": ("Lin et al. 2017, Feature Pyramid Networks", "10.1109/CVPR.2017.106"),
    "deeplabv3plus": ("Chen et al. 2018, DeepLabV3+", "10.1007/978-3-030-01234-2_49"),
}


@dataclass(frozen=True)
class PackageFile:
    """A file of the package, by its name inside the zip, and its sha256."""

    name: str
    sha256: str


@dataclass(frozen=True)
class PackageFiles:
    state_dict: PackageFile
    torchscript: PackageFile
    onnx: PackageFile
    architecture: PackageFile
    environment: PackageFile
    test_input: PackageFile
    test_output: PackageFile
    readme: PackageFile


def preprocessing(ranges: list[tuple[float, float]] | None) -> list[dict[str, Any]]:
    """The app's normalisation as BioImage.IO preprocessing steps."""
    clip = {"id": "clip", "kwargs": {"min": CLIP[0], "max": CLIP[1]}}
    if ranges is None:
        low, high = PERCENTILES
        scale = {"min_percentile": low, "max_percentile": high, "axes": ["y", "x"]}
        return [{"id": "scale_range", "kwargs": scale}, clip]
    gains = [1.0 / (high - low) if high > low else 1.0 for low, high in ranges]
    offsets = [-low * gain for (low, _), gain in zip(ranges, gains, strict=True)]
    scale = {"axis": "channel", "gain": gains, "offset": offsets}
    return [{"id": "scale_linear", "kwargs": scale}, clip]


def package_name(project: str, version: int) -> str:
    """A name the spec accepts (letters, digits, "_+- ()"; 5 to 128 characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9_+\- ()]+", " ", project).strip() or "project"
    return f"Lesslabel {cleaned[:80]} v{version}"


def rdf(
    *,
    description: dict[str, Any],
    files: PackageFiles,
    architecture: dict[str, Any],
    pytorch_version: str,
    opset: int,
    license_id: str,
) -> dict[str, Any]:
    """rdf.yaml's content. `description` is the version's (services.py `version_description`)."""
    provenance = description["provenance"]
    train = description["config"]["train"]
    text, doi = CITATIONS[train["architecture"]]
    sizes = {"min": 32, "step": 32}
    return {
        "type": "model",
        "format_version": FORMAT_VERSION,
        "name": package_name(provenance["project"], provenance["model_version"]),
        "description": (
            f"{train['architecture']}/{train['encoder']} segmentation of "
            f"{', '.join(c['name'] for c in description['classes'])}, trained in Lesslabel."
        )[:512],
        "authors": [{"name": provenance["created_by"] or "Lesslabel"}],
        "cite": [{"text": text, "doi": doi}],
        "license": license_id,
        "documentation": _file(files.readme),
        "tags": ["segmentation", "semantic-segmentation", "2d", "lesslabel", train["architecture"]],
        "timestamp": provenance["created_at"],
        "inputs": [
            {
                "id": "raw",
                "description": "the image's channels, in this order, as float32",
                "axes": [
                    {"type": "batch"},
                    {"type": "channel", "channel_names": list(description["channels"])},
                    {"type": "space", "id": "y", "size": sizes},
                    {"type": "space", "id": "x", "size": sizes},
                ],
                "test_tensor": _file(files.test_input),
                "data": {"type": "float32"},
                "preprocessing": preprocessing(_ranges(description)),
            }
        ],
        "outputs": [
            {
                "id": "probabilities",
                "description": "class probabilities, one channel per class",
                "axes": [
                    {"type": "batch"},
                    {"type": "channel", "channel_names": [c["name"] for c in description["classes"]]},
                    {"type": "space", "id": "y", "size": {"tensor_id": "raw", "axis_id": "y"}},
                    {"type": "space", "id": "x", "size": {"tensor_id": "raw", "axis_id": "x"}},
                ],
                "test_tensor": _file(files.test_output),
                "data": {"type": "float32", "range": [0.0, 1.0]},
            }
        ],
        "weights": _weights(files, architecture, pytorch_version=pytorch_version, opset=opset),
        "config": {"lesslabel": description},
    }


def _weights(
    files: PackageFiles, architecture: dict[str, Any], *, pytorch_version: str, opset: int
) -> dict[str, Any]:
    return {
        "pytorch_state_dict": {
            **_file(files.state_dict),
            "architecture": {
                **_file(files.architecture),
                "callable": "lesslabel_network",
                "kwargs": architecture,
            },
            "pytorch_version": pytorch_version,
            "dependencies": _file(files.environment),
        },
        "torchscript": {
            **_file(files.torchscript),
            "pytorch_version": pytorch_version,
            "parent": "pytorch_state_dict",
        },
        "onnx": {**_file(files.onnx), "opset_version": opset, "parent": "pytorch_state_dict"},
    }


def _file(file: PackageFile) -> dict[str, str]:
    return {"source": file.name, "sha256": file.sha256}


def _ranges(description: dict[str, Any]) -> list[tuple[float, float]] | None:
    ranges = description["ranges"]
    return None if ranges is None else [(float(low), float(high)) for low, high in ranges]


def environment(*, pytorch_version: str, smp_version: str) -> str:
    """The conda environment the state dict's architecture needs."""
    return (
        "name: lesslabel-model\n"
        "channels:\n  - conda-forge\n  - nodefaults\n"
        "dependencies:\n"
        "  - python>=3.11\n"
        f"  - pytorch=={pytorch_version}\n"
        "  - pip\n"
        "  - pip:\n"
        f"    - segmentation-models-pytorch=={smp_version}\n"
    )


def readme(description: dict[str, Any]) -> str:
    """The package's documentation: what the model reads and gives, and where it came from."""
    provenance = description["provenance"]
    train = description["config"]["train"]
    classes = "\n".join(
        f"- channel {k}: {c['name']} (label value {c['index']})" for k, c in enumerate(description["classes"])
    )
    ranges = description["ranges"]
    scaling = (
        "\n".join(
            f"- {name}: ({low:g}, {high:g})"
            for name, (low, high) in zip(description["channels"], ranges, strict=True)
        )
        if ranges is not None
        else f"- each image's own {PERCENTILES[0]:g}th and {PERCENTILES[1]:g}th percentiles"
    )
    return f"""# {package_name(provenance["project"], provenance["model_version"])}

A {train["architecture"]}/{train["encoder"]} segmentation model trained in Lesslabel (project
"{provenance["project"]}", model version {provenance["model_version"]}, run {provenance["run"]}, by
{provenance["created_by"]}, {provenance["created_at"]}).

## Input
The channels {", ".join(description["channels"])}, in this order, height and width multiples of 32.
Each channel is scaled so that its range maps to 0..1, then clipped to [-1, 2]:
{scaling}

## Output
Class probabilities, one channel per class:
{classes}

The weights come as a PyTorch state dict (architecture.py builds the network), TorchScript and
ONNX; each gives the same probabilities. `config.lesslabel` in rdf.yaml holds the run's settings
and metrics; Lesslabel imports this package as a model version again.
"""
