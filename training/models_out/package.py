"""BioImage.IO packages: written from a version's network and test tensors, and read back for an
import (pure: no Django; the errors say what to do).

A package holds rdf.yaml, the weights as a PyTorch state dict (with architecture.py, the file
that builds its network, and a conda environment), TorchScript and ONNX, a README, and the test
input and output as .npy. Reading one back trusts nothing in it: the zip's names and sizes are
checked before anything is read (labeling/importers/archive.py), the state dict is loaded with
`weights_only=True` (no pickled code runs), its sha256 must be the one rdf.yaml names, and its
tensors must fit the network the description builds.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import segmentation_models_pytorch as smp
import torch
import yaml

from labeling.errors import InvalidInput
from labeling.importers.archive import Limits, NamedFile, unpack
from training.ml.config import TrainConfig
from training.ml.models import create_network
from training.models_out import network, rdf
from training.models_out.architecture import LesslabelProbabilities

DESCRIPTION_FORMAT = 1
ARCHITECTURE_SOURCE = Path(__file__).with_name("architecture.py")
NAMES = {
    "state_dict": "weights.pt",
    "torchscript": "weights_torchscript.pt",
    "onnx": "weights.onnx",
    "architecture": "architecture.py",
    "environment": "environment.yaml",
    "test_input": "test_input.npy",
    "test_output": "test_output.npy",
    "readme": "README.md",
}


@dataclass(frozen=True)
class TestTensors:
    """The package's test input (raw pixels) and output (the app's probabilities for it).

    Shape: raw (1, C, S, S) float32; probabilities (1, K, S, S) float32; S a multiple of 32.
    """

    raw: np.ndarray
    probabilities: np.ndarray


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_package(
    model: LesslabelProbabilities,
    *,
    description: dict[str, Any],
    architecture: dict[str, Any],
    tensors: TestTensors,
    normalised: np.ndarray,
    license_id: str,
) -> bytes:
    """The package as zip bytes. `normalised` is the app's normalised test input (1, C, S, S),
    which the TorchScript and ONNX files are traced on."""
    example = torch.from_numpy(normalised)
    state = io.BytesIO()
    torch.save(model.state_dict(), state)
    pytorch_version = torch.__version__.split("+")[0]
    contents = {
        "state_dict": state.getvalue(),
        "torchscript": network.torchscript_bytes(model, example, description),
        "onnx": network.onnx_bytes(model, example, description),
        "architecture": ARCHITECTURE_SOURCE.read_bytes(),
        "environment": rdf.environment(pytorch_version=pytorch_version, smp_version=smp.__version__).encode(),
        "test_input": npy_bytes(tensors.raw),
        "test_output": npy_bytes(tensors.probabilities),
        "readme": rdf.readme(description).encode(),
    }
    files = rdf.PackageFiles(
        **{key: rdf.PackageFile(NAMES[key], sha256(data)) for key, data in contents.items()}
    )
    text = yaml.safe_dump(
        rdf.rdf(
            description=description,
            files=files,
            architecture=architecture,
            pytorch_version=pytorch_version,
            opset=network.OPSET,
            license_id=license_id,
        ),
        sort_keys=False,
        allow_unicode=True,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("rdf.yaml", text)
        for key, data in contents.items():
            package.writestr(NAMES[key], data)
    return buffer.getvalue()


# Reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadPackage:
    """What an import takes from a package: the version's description and its network's weights
    (the names smp gives them, as a version's checkpoint holds them)."""

    description: dict[str, Any]
    config: TrainConfig
    state: dict[str, torch.Tensor]


def read_package(data: bytes, *, limits: Limits) -> ReadPackage:
    """A Lesslabel package's description and weights; InvalidInput (nothing kept) for a zip that
    cannot be read, has unsafe names, is not a BioImage.IO package Lesslabel wrote, or whose
    weights do not fit what it describes."""
    files = {file.name: file.data for file in unpack([NamedFile("package.zip", data)], limits=limits)}
    if "rdf.yaml" not in files:
        raise InvalidInput("This zip has no rdf.yaml at its top: it is not a BioImage.IO model package.")
    described = _rdf(files["rdf.yaml"])
    description = (
        described.get("config", {}).get("lesslabel") if isinstance(described.get("config"), dict) else None
    )
    if not isinstance(description, dict) or description.get("format") != DESCRIPTION_FORMAT:
        raise InvalidInput(
            "This BioImage.IO package was not exported by Lesslabel (rdf.yaml has no config.lesslabel "
            f"of format {DESCRIPTION_FORMAT}); only Lesslabel's own packages import as model versions."
        )
    config = _train_config(description)
    state = _state_dict(files, described)
    _check_fits(config, state)
    return ReadPackage(description=description, config=config, state=state)


def _rdf(data: bytes) -> dict[str, Any]:
    try:
        parsed = yaml.safe_load(data)
    except yaml.YAMLError as error:
        raise InvalidInput(f"rdf.yaml is not readable YAML ({error}).") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("rdf.yaml does not describe a model (it is not a mapping).")
    return parsed


def _train_config(description: dict[str, Any]) -> TrainConfig:
    try:
        config = TrainConfig.from_dict(description["config"]["train"])
        classes, channels, ranges = description["classes"], description["channels"], description["ranges"]
        names_ok = all(isinstance(c["name"], str) and isinstance(c["index"], int) for c in classes)
        channels_ok = all(isinstance(name, str) for name in channels)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"config.lesslabel in rdf.yaml is incomplete or damaged ({error}).") from None
    if (
        not (names_ok and channels_ok)
        or len(classes) != config.num_classes
        or len(channels) != config.in_channels
    ):
        raise InvalidInput(
            "config.lesslabel in rdf.yaml does not agree with itself: its classes and channels do not "
            "match the network's outputs and inputs."
        )
    if ranges is not None and not _ranges_fit(ranges, len(channels)):
        raise InvalidInput("config.lesslabel in rdf.yaml has channel ranges that do not match its channels.")
    if not isinstance(description.get("provenance"), dict) or not isinstance(
        description.get("test_time_augmentation"), bool
    ):
        raise InvalidInput("config.lesslabel in rdf.yaml lacks its provenance or test_time_augmentation.")
    return config


def _ranges_fit(ranges: Any, channels: int) -> bool:
    """A list of (low, high) numbers, one pair per channel."""
    return (
        isinstance(ranges, list)
        and len(ranges) == channels
        and all(isinstance(pair, list) and len(pair) == 2 and all(map(_is_number, pair)) for pair in ranges)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _state_dict(files: dict[str, bytes], described: dict[str, Any]) -> dict[str, torch.Tensor]:
    try:
        entry = described["weights"]["pytorch_state_dict"]
        name, expected = str(entry["source"]), str(entry["sha256"])
    except (KeyError, TypeError):
        raise InvalidInput("rdf.yaml names no pytorch_state_dict weights (with their sha256).") from None
    if name not in files:
        raise InvalidInput(f"rdf.yaml names the weights {name!r}, which the zip does not hold.")
    if sha256(files[name]) != expected:
        raise InvalidInput(f"{name} is not the file rdf.yaml describes (its sha256 differs): damaged?")
    try:
        state = torch.load(io.BytesIO(files[name]), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged or pickled-code file
        raise InvalidInput(f"{name} is not a plain PyTorch state dict ({type(error).__name__}).") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidInput(f"{name} is not a PyTorch state dict of tensors.")
    prefix = "network."
    return {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}


def _check_fits(config: TrainConfig, state: dict[str, torch.Tensor]) -> None:
    model = create_network(config, outputs=config.num_classes)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise InvalidInput(
            f"The package's weights do not fit the {config.architecture}/{config.encoder} "
            f"it describes ({first})."
        ) from None


def test_crop(
    planes: np.ndarray | None,
    *,
    ranges: list[tuple[float, float]] | None,
    channels: int,
    size: int,
    seed: int,
) -> np.ndarray:
    """The package's test input: the centre of an image of the project, cut square to a multiple
    of 32 (at most `size`); without an image that has the channels, seeded noise over the ranges.

    Shape: planes (C, H, W) any dtype or None -> (C, S, S) float32.
    """
    if planes is not None:
        side = min(size, planes.shape[1] // 32 * 32, planes.shape[2] // 32 * 32)
        if side >= 32:
            top, left = (planes.shape[1] - side) // 2, (planes.shape[2] - side) // 2
            return np.ascontiguousarray(planes[:, top : top + side, left : left + side], dtype=np.float32)
    rng = np.random.default_rng(seed)
    bounds = ranges or [(0.0, 1.0)] * channels
    return np.stack([rng.uniform(low, high, (size, size)) for low, high in bounds]).astype(np.float32)
