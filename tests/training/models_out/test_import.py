"""A package Lesslabel exported imports into another project as a model version that predicts as
the original did and can warm-start a run; anything else is refused with a 400 and nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import override_settings

from labeling import services
from labeling.labelmaps import decode_png_map
from tests.factories import zip_bytes
from tests.training.models_out.conftest import SIZE, add_field, members, package_bytes
from training import scoring
from training.ml.models import create_model, load_weights
from training.models import ModelVersion, TrainingRun
from training.models_out.services import version_export
from training.runs.spec import RunSpec, check_warm_start

CPU = torch.device("cpu")


@pytest.fixture
def other(users: dict[str, Any]) -> Any:
    """A project of the manager's whose classes are the same by name, at other indices."""
    project = services.project_create(name="Elsewhere", owner=users["manager"], description="")
    services.label_class_create(project=project, name="debris", color="#00ff00")
    services.label_class_create(project=project, name="Nucleus", color="#ff0000")
    return project


def send(client: Any, project: Any, data: bytes) -> Any:
    upload = SimpleUploadedFile("model.zip", data, content_type="application/zip")
    return client.post(
        f"/api/projects/{project.pk}/model-versions/import/", {"file": upload}, format="multipart"
    )


def stored_state() -> tuple[int, int, int]:
    models = Path(settings.MEDIA_ROOT) / "models"
    files = len(list(models.iterdir())) if models.is_dir() else 0
    return ModelVersion.objects.count(), TrainingRun.objects.count(), files


def class_map(version: ModelVersion, image: Any) -> np.ndarray:
    with override_settings(PREDICTION_TILE_SIZE=SIZE):
        context = scoring.context_of(version)
        prediction = scoring.predict_image(
            version, image, model=scoring.model_of(version.pk, "cpu"), device=CPU, context=context
        )
    return decode_png_map(prediction.mask.read(), what="class map")


@pytest.mark.django_db
def test_an_exported_package_imports_into_another_project_and_predicts_as_the_original(
    version, project, users, other, client_for
):
    data = version_export(version=version, kind="bioimageio").data
    answer = send(client_for("manager"), other, data)
    assert answer.status_code == 201, answer.json()
    imported = ModelVersion.objects.get(pk=answer.json()["id"])
    assert imported.project == other and imported.kind == "segmentation"
    assert imported.config["classes"] == [1, 3]  # background, Nucleus of the other project
    assert imported.config["ranges"] == version.config["ranges"]
    assert imported.metrics["imported"]["from"]["model_version"] == version.pk
    assert imported.run.created_by == users["manager"] and imported.run.state == "succeeded"

    original_map = class_map(version, project.images.get())
    imported_map = class_map(imported, add_field(other, users["manager"]))
    assert np.array_equal(imported_map, np.where(original_map == 2, 3, original_map))
    assert set(np.unique(original_map)) == {1, 2}


@pytest.mark.django_db
def test_an_imported_version_warm_starts_a_run_with_its_weights(users, other, client_for):
    imported = ModelVersion.objects.get(pk=send(client_for("manager"), other, package_bytes()).json()["id"])
    spec = RunSpec.from_json(imported.run.config)
    check_warm_start(imported.pk, imported.config, spec)  # raises when a run could not start from it
    start = create_model(spec.train).eval()
    load_weights(start, scoring.checkpoint_of(imported).model_state)  # what a warm-started run does
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(start(x), scoring.model_of(imported.pk, "cpu")(x))


@pytest.mark.django_db
def test_import_model_command_imports_into_the_named_project(other, users, tmp_path, capsys):
    path = tmp_path / "model.zip"
    path.write_bytes(package_bytes())
    call_command("import_model", str(path), "--project", "Elsewhere")
    imported = ModelVersion.objects.get(project=other)
    assert imported.run.created_by == users["manager"]
    assert f"model version {imported.pk}" in capsys.readouterr().out


def _traversal() -> bytes:
    files = members(package_bytes())
    files["../outside.txt"] = b"x"
    return zip_bytes(files)


def _not_ours() -> bytes:
    files = members(package_bytes())
    described = yaml.safe_load(files["rdf.yaml"])
    del described["config"]["lesslabel"]
    files["rdf.yaml"] = yaml.safe_dump(described).encode()
    return zip_bytes(files)


def _damaged_description() -> bytes:
    files = members(package_bytes())
    described = yaml.safe_load(files["rdf.yaml"])
    described["config"]["lesslabel"]["ranges"] = "wide"
    files["rdf.yaml"] = yaml.safe_dump(described).encode()
    return zip_bytes(files)


def _other_weights() -> bytes:
    files = members(package_bytes())
    files["weights.pt"] = files["weights.pt"][:-10] + b"0123456789"
    return zip_bytes(files)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: package_bytes()[: len(package_bytes()) // 2], "not a readable zip"),
        (lambda: b"not a zip at all", "not a readable zip"),
        (_traversal, "outside the zip"),
        (lambda: zip_bytes({"README.md": b"hello"}), "no rdf.yaml"),
        (_not_ours, "not exported by Lesslabel"),
        (_damaged_description, "channel ranges"),
        (_other_weights, "sha256"),
    ],
    ids=[
        "truncated",
        "not-a-zip",
        "traversal",
        "no-rdf",
        "not-ours",
        "damaged-description",
        "tampered-weights",
    ],
)
def test_a_package_that_is_not_a_sound_lesslabel_export_is_refused_and_nothing_stored(
    other, client_for, make, says
):
    before = stored_state()
    answer = send(client_for("manager"), other, make())
    assert answer.status_code == 400
    assert says in str(answer.json())
    assert stored_state() == before


@pytest.mark.django_db
def test_a_model_whose_classes_the_project_lacks_is_refused(users, client_for):
    project = services.project_create(name="Cells", owner=users["manager"], description="")
    before = stored_state()
    answer = send(client_for("manager"), project, package_bytes())
    assert answer.status_code == 400
    assert "nucleus" in str(answer.json()) and "not classes of this project" in str(answer.json())
    assert stored_state() == before


@pytest.mark.django_db
def test_a_package_larger_than_the_setting_is_refused(other, client_for):
    with override_settings(MODEL_IMPORT_MAX_BYTES=1000):
        answer = send(client_for("manager"), other, package_bytes())
    assert answer.status_code == 400 and "MODEL_IMPORT_MAX_BYTES" in str(answer.json())
    assert not ModelVersion.objects.filter(project=other).exists()


@pytest.mark.django_db
def test_import_model_command_says_why_it_refuses(other, tmp_path):
    path = tmp_path / "model.zip"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_model", str(path), "--project", "Elsewhere")
