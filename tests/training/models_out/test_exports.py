"""A model version exported as TorchScript, ONNX and a BioImage.IO package reproduces the app's
own prediction, carries its description, and the package validates offline with bioimageio.spec."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import bioimageio.spec
import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import yaml
from bioimageio.spec.model.v0_5 import ModelDescr
from django.test import override_settings

from labeling.labelmaps import decode_png_map
from tests.training.models_out.conftest import (
    RANGES,
    SIZE,
    add_field,
    field_pixels,
    members,
    npy,
    store_version,
)
from training import scoring
from training.ml.inference import predict_probabilities
from training.models_out import rdf
from training.models_out.services import version_export
from training.predict.pipeline import model_input
from training.runs.spec import VersionInputs

CPU = torch.device("cpu")
TOLERANCE = 1e-4


def preprocessed(raw: np.ndarray, steps: list[dict[str, Any]]) -> np.ndarray:
    """The package's input after the preprocessing its rdf.yaml describes (scale_linear, clip),
    computed here from the description alone. Shape: (1, C, H, W) -> (1, C, H, W) float32."""
    out = raw.astype(np.float32)
    for step in steps:
        kwargs = step["kwargs"]
        if step["id"] == "scale_linear":
            gain = np.asarray(kwargs["gain"], dtype=np.float32)[None, :, None, None]
            offset = np.asarray(kwargs["offset"], dtype=np.float32)[None, :, None, None]
            out = out * gain + offset
        elif step["id"] == "clip":
            out = np.clip(out, kwargs["min"], kwargs["max"])
        else:
            raise AssertionError(f"unexpected preprocessing {step['id']}")
    return out


def onnx_probabilities(data: bytes, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"input": x})[0])


def torchscript_probabilities(data: bytes, x: np.ndarray) -> np.ndarray:
    model = torch.jit.load(io.BytesIO(data), map_location="cpu")
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def assert_reproduces(name: str, probabilities: np.ndarray, expected: np.ndarray) -> None:
    difference = float(np.abs(probabilities - expected).max())
    print(f"{name}: max abs difference of probabilities {difference:.2e}")
    assert difference < TOLERANCE, name
    assert np.array_equal(probabilities.argmax(axis=1), expected.argmax(axis=1)), name


@pytest.mark.django_db
@pytest.mark.parametrize("augment", [False, True], ids=["plain", "test-time-augmentation"])
def test_the_packages_torchscript_and_onnx_reproduce_the_apps_prediction_of_its_test_tensor(
    project, users, augment
):
    image = add_field(project, users["owner"])
    version = store_version(project, users["owner"], augment=augment)
    files = members(version_export(version=version, kind="bioimageio").data)
    described = yaml.safe_load(files["rdf.yaml"])
    raw, expected = npy(files["test_input.npy"]), npy(files["test_output.npy"])
    assert np.array_equal(raw[0, 0], field_pixels())  # the project's image, whole (96 x 96)
    x = preprocessed(raw, described["inputs"][0]["preprocessing"])

    # The test output is the app's own prediction of the image (its model, tiling and averaging).
    app = predict_probabilities(
        scoring.model_of(version.pk, "cpu"), x[0], device=CPU, tile=SIZE, augment=augment
    )
    assert np.abs(app - expected[0]).max() < TOLERANCE
    onnx_out = onnx_probabilities(files["weights.onnx"], x)
    assert_reproduces(f"package ONNX, {augment=}", onnx_out, expected)
    assert_reproduces(
        f"package TorchScript, {augment=}",
        torchscript_probabilities(files["weights_torchscript.pt"], x),
        expected,
    )
    # A prediction job in one tile stores the exported network's class map in the project's classes.
    with override_settings(PREDICTION_TILE_SIZE=SIZE):
        context = scoring.context_of(version)
        prediction = scoring.predict_image(
            version, image, model=scoring.model_of(version.pk, "cpu"), device=CPU, context=context
        )
    classes = np.asarray([c["index"] for c in described["config"]["lesslabel"]["classes"]])
    stored = decode_png_map(prediction.mask.read(), what="class map")
    assert np.array_equal(stored, classes[onnx_out[0].argmax(axis=0)])
    assert set(np.unique(stored)) == {1, 2}  # a trained model, not a constant map


@pytest.mark.django_db
def test_the_torchscript_and_onnx_downloads_carry_the_description_and_predict_as_the_app(version):
    extra = {"lesslabel.json": ""}
    torchscript = version_export(version=version, kind="torchscript").data
    torch.jit.load(io.BytesIO(torchscript), _extra_files=extra)
    onnx_file = version_export(version=version, kind="onnx").data
    props = {p.key: p.value for p in onnx.load_from_string(onnx_file).metadata_props}

    for description in (json.loads(extra["lesslabel.json"]), json.loads(props["lesslabel"])):
        assert description["classes"] == [{"index": 1, "name": "background"}, {"index": 2, "name": "nucleus"}]
        assert description["channels"] == ["gray"]
        assert description["ranges"] == [list(pair) for pair in RANGES]
        assert description["provenance"]["model_version"] == version.pk
        assert description["provenance"]["run"] == version.run_id
        assert description["provenance"]["created_by"] == "owner"
        assert description["config"]["train"]["architecture"] == "unet"

    x = model_input({"gray": field_pixels()}, VersionInputs.of(version.config))
    app = predict_probabilities(scoring.model_of(version.pk, "cpu"), x, device=CPU, tile=SIZE)[None]
    assert_reproduces("TorchScript download", torchscript_probabilities(torchscript, x[None]), app)
    assert_reproduces("ONNX download", onnx_probabilities(onnx_file, x[None]), app)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access during validation: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.django_db
def test_the_package_validates_offline_with_bioimageio_spec_and_states_the_apps_normalisation(
    version, tmp_path, no_network
):
    assert ModelDescr.implemented_format_version == rdf.FORMAT_VERSION
    for name, data in members(version_export(version=version, kind="bioimageio").data).items():
        (tmp_path / name).write_bytes(data)
    described = bioimageio.spec.load_description(tmp_path / "rdf.yaml", perform_io_checks=True)
    summary = described.validation_summary
    assert isinstance(described, ModelDescr), summary.format()
    assert summary.status in ("valid-format", "passed"), summary.format()

    written = yaml.safe_load((tmp_path / "rdf.yaml").read_text())
    (scale, clip) = written["inputs"][0]["preprocessing"]
    low, high = RANGES[0]
    assert (scale["id"], clip["id"], clip["kwargs"]) == ("scale_linear", "clip", {"min": -1.0, "max": 2.0})
    assert scale["kwargs"]["gain"][0] * low + scale["kwargs"]["offset"][0] == pytest.approx(0.0)
    assert scale["kwargs"]["gain"][0] * high + scale["kwargs"]["offset"][0] == pytest.approx(1.0)
    assert written["outputs"][0]["axes"][1]["channel_names"] == ["background", "nucleus"]
    assert written["config"]["lesslabel"]["provenance"]["model_version"] == version.pk
