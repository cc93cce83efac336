"""Models out and back in: a model version exported as TorchScript, ONNX or a BioImage.IO package,
and a package Lesslabel exported imported as a model version of another project.

Exports are made on request from the version's checkpoint (a few seconds on a CPU); they carry the
version's description (`version_description`): classes, channels, ranges, the run's settings and
where it came from. The package's test output is the app's own prediction for its test input
(scoring.model_of + training/ml/inference.py, one tile), so a tool that reproduces it reproduces
Lesslabel. An import stores a new version whose prediction equals the original's: the weights file
first (a fresh name), then the run and version rows in one transaction.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.importers.archive import Limits
from labeling.models import Project
from training import scoring
from training.ml import checkpoint as ckpt
from training.ml.inference import predict_probabilities
from training.models import ModelVersion, RunState, TrainingRun, VersionKind
from training.models_out import network, package
from training.predict.pipeline import model_input
from training.runs.spec import RunSpec, VersionInputs, version_spec

FORMATS = ("torchscript", "onnx", "bioimageio")
TEST_SIZE = 256  # the test input's side at most (pixels)
CPU = torch.device("cpu")


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    data: bytes


def version_export(*, version: ModelVersion, kind: str) -> Export:
    """The version as `kind` (FORMATS); InvalidInput for another kind or a version that does not
    segment (a pretrained encoder, a classifier)."""
    if kind not in FORMATS:
        raise InvalidInput(f"as must be one of {', '.join(FORMATS)}, not {kind!r}.")
    if version.kind == VersionKind.FOREST:
        raise InvalidInput(
            f"Model version {version.pk} is a random forest; TorchScript, ONNX and BioImage.IO hold "
            "neural networks, so only segmentation networks export. Export its predictions instead "
            "(label images, COCO, GeoJSON, measurements)."
        )
    if version.kind != VersionKind.SEGMENTATION:
        raise InvalidInput(
            f"Model version {version.pk} is a pretrained {version.kind}; only segmentation models export."
        )
    checkpoint = scoring.checkpoint_of(version)
    inputs = VersionInputs.of(version.config)
    description = version_description(version, checkpoint)
    model = network.probabilities_network(checkpoint, augment=inputs.test_time_augmentation)
    normalised, tensors = test_tensors(version, inputs)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", version.project.name).strip("-") or "project"
    stem = f"{stem}-v{version.pk}"
    example = torch.from_numpy(normalised)
    if kind == "torchscript":
        return Export(
            f"{stem}.torchscript.pt",
            "application/octet-stream",
            network.torchscript_bytes(model, example, description),
        )
    if kind == "onnx":
        return Export(
            f"{stem}.onnx", "application/octet-stream", network.onnx_bytes(model, example, description)
        )
    data = package.write_package(
        model,
        description=description,
        architecture=network.architecture_kwargs(checkpoint, augment=inputs.test_time_augmentation),
        tensors=tensors,
        normalised=normalised,
        license_id=settings.MODEL_EXPORT_LICENSE,
    )
    return Export(f"{stem}.bioimageio.zip", "application/zip", data)


def version_description(version: ModelVersion, checkpoint: ckpt.Checkpoint) -> dict[str, Any]:
    """What every exported format carries: the classes (index and name of each output channel),
    the channels and their ranges, the version's config (its run's settings) and provenance."""
    inputs = VersionInputs.of(version.config)
    names = selectors.class_names(version.project)
    run = version.run
    return {
        "format": package.DESCRIPTION_FORMAT,
        "classes": [{"index": index, "name": names.get(index, f"class {index}")} for index in inputs.classes],
        "channels": list(inputs.channels),
        "ranges": None if inputs.ranges is None else [list(pair) for pair in inputs.ranges],
        "test_time_augmentation": inputs.test_time_augmentation,
        "config": _spec(version, checkpoint).to_json(),
        "provenance": {
            "app": "lesslabel",
            "project": version.project.name,
            "model_version": version.pk,
            "run": run.pk,
            "parent": version.parent_id,
            "created_at": version.created_at.isoformat(),
            "created_by": run.created_by.get_username(),
            "label_layers": len(run.label_snapshot),
            "metrics": version.metrics,
        },
    }


def _spec(version: ModelVersion, checkpoint: ckpt.Checkpoint) -> RunSpec:
    """The version's run settings, with the network's config as its checkpoint holds it; a version
    whose config is not a full run spec (made before specs, or in a test) gets the plain one."""
    try:
        spec, _ = version_spec(version.config)
    except (KeyError, TypeError, ValueError):
        inputs = VersionInputs.of(version.config)
        spec = RunSpec(
            train=checkpoint.config,
            channels=inputs.channels,
            classes=inputs.classes,
            test_time_augmentation=inputs.test_time_augmentation,
        )
    return dataclasses.replace(spec, train=checkpoint.config)


def test_tensors(version: ModelVersion, inputs: VersionInputs) -> tuple[np.ndarray, package.TestTensors]:
    """The normalised test input (1, C, S, S) and the package's tensors: the raw input and the
    probabilities the app's own model and inference give for it."""
    raw = package.test_crop(
        _first_image_planes(version, inputs.channels),
        ranges=inputs.ranges,
        channels=len(inputs.channels),
        size=TEST_SIZE,
        seed=version.pk,
    )
    normalised = model_input(dict(zip(inputs.channels, raw, strict=True)), inputs)
    side = normalised.shape[-1]
    model = scoring.model_of(version.pk, CPU.type)
    assert isinstance(model, torch.nn.Module), "version_export refuses forests before this"
    probabilities = predict_probabilities(
        model,
        normalised,
        device=CPU,
        tile=side,
        overlap=0,
        batch_size=1,
        augment=inputs.test_time_augmentation,
    )
    return normalised[None], package.TestTensors(raw=raw[None], probabilities=probabilities[None])


def _first_image_planes(version: ModelVersion, channels: tuple[str, ...]) -> np.ndarray | None:
    """The first image of the project (by name) that has the version's channels, or None."""
    ids = list(selectors.images_of(version.project).order_by("name", "pk").values_list("pk", flat=True)[:500])
    usable = selectors.images_with_channels(ids, channels)
    for image in selectors.live_images([pk for pk in ids if pk in usable][:1]):
        try:
            return selectors.image_planes(image, channels)
        except ValueError:  # unreadable: the noise input will do
            return None
    return None


# Import ------------------------------------------------------------------------------------------


def model_version_import(*, project: Project, author: Any, data: bytes) -> ModelVersion:
    """A Lesslabel BioImage.IO package as a new model version of `project`, usable for prediction
    jobs and as a warm start. Its classes are matched to the project's by name; InvalidInput, and
    nothing stored, for anything that does not fit."""
    if len(data) > settings.MODEL_IMPORT_MAX_BYTES:
        raise InvalidInput(
            f"The package is {len(data)} bytes, more than this server accepts "
            f"({settings.MODEL_IMPORT_MAX_BYTES}; MODEL_IMPORT_MAX_BYTES)."
        )
    limits = Limits(
        entries=settings.IMPORT_MAX_ZIP_ENTRIES,
        total_bytes=settings.MODEL_IMPORT_MAX_UNPACKED_BYTES,
        file_bytes=settings.MODEL_IMPORT_MAX_UNPACKED_BYTES,
    )
    read = package.read_package(data, limits=limits)
    description = read.description
    spec = _imported_spec(description, read.config, _class_indices(project, description["classes"]))
    ranges = description["ranges"]
    metrics = dict(description["provenance"].get("metrics") or {})
    metrics["imported"] = {
        "from": {key: value for key, value in description["provenance"].items() if key != "metrics"},
        "package_sha256": package.sha256(data),
        "by": author.get_username(),
        "at": timezone.now().isoformat(),
    }
    saved = ckpt.checkpoint_bytes(ckpt.Checkpoint(config=read.config, model_state=read.state))
    name = default_storage.save(f"models/import-{uuid.uuid4().hex}.pt", ContentFile(saved))
    try:
        return _store(project, author, spec, ranges, metrics, name)
    except BaseException:
        default_storage.delete(name)
        raise


@transaction.atomic
def _store(
    project: Project, author: Any, spec: RunSpec, ranges: Any, metrics: dict[str, Any], weights: str
) -> ModelVersion:
    now = timezone.now()
    run = TrainingRun.objects.create(
        project=project,
        created_by=author,
        config=spec.to_json(),
        state=RunState.SUCCEEDED,
        started_at=now,
        finished_at=now,
    )
    return ModelVersion.objects.create(
        project=project,
        run=run,
        kind="segmentation",
        weights=weights,
        config={**spec.to_json(), "ranges": ranges},
        metrics=metrics,
    )


def _class_indices(project: Project, classes: list[dict[str, Any]]) -> tuple[int, ...]:
    """The project's class index for each of the model's classes, matched by name."""
    by_name = {name.casefold(): index for index, name in selectors.class_names(project).items()}
    missing = [c["name"] for c in classes if c["name"].casefold() not in by_name]
    if missing:
        raise InvalidInput(
            f"The model's classes {', '.join(missing)} are not classes of this project (it has "
            f"{', '.join(selectors.class_names(project).values()) or 'none'}); add them, or import the "
            "model into a project that has them."
        )
    indices = tuple(by_name[c["name"].casefold()] for c in classes)
    if len(set(indices)) != len(indices):
        raise InvalidInput("Two of the model's classes match the same class of this project.")
    return indices


def _imported_spec(description: dict[str, Any], config: Any, classes: tuple[int, ...]) -> RunSpec:
    """The run settings the imported version keeps: the network, channels and test-time
    augmentation of the original; what refers to the other project (tags, frozen images) is left out."""
    try:
        original = RunSpec.from_json(description["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(
            f"config.lesslabel.config in rdf.yaml is not a run's settings ({error})."
        ) from None
    return RunSpec(
        train=config,
        channels=tuple(description["channels"]),
        classes=classes,
        label_sources=original.label_sources or ("scribble", "dense"),
        derived_sources=original.derived_sources,
        label_approval=original.label_approval,
        test_time_augmentation=bool(description["test_time_augmentation"]),
    )
