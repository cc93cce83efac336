"""Who may download and import models, and what a wrong request is told."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.training.models_out.conftest import members, package_bytes
from training.models import ModelVersion


@pytest.mark.django_db
@pytest.mark.parametrize(("user", "status"), [("annotator", 403), ("viewer", 403), ("stranger", 404)])
def test_only_managers_and_owners_download_a_model(version, client_for, user, status):
    answer = client_for(user).get(f"/api/model-versions/{version.pk}/export/?as=onnx")
    assert answer.status_code == status


@pytest.mark.django_db
def test_a_manager_downloads_a_bioimageio_package_as_an_attachment(version, client_for):
    answer = client_for("manager").get(f"/api/model-versions/{version.pk}/export/?as=bioimageio")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/zip"
    assert answer["Content-Disposition"] == f'attachment; filename="Nuclei-v{version.pk}.bioimageio.zip"'
    assert {"rdf.yaml", "weights.pt", "weights.onnx", "weights_torchscript.pt"} <= set(
        members(answer.content)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["", "pickle", "ONNX"])
def test_an_unknown_format_is_refused_naming_the_formats(version, client_for, kind):
    answer = client_for("manager").get(f"/api/model-versions/{version.pk}/export/?as={kind}")
    assert answer.status_code == 400
    assert "torchscript, onnx, bioimageio" in str(answer.json())


@pytest.mark.django_db
@pytest.mark.parametrize(("user", "status"), [("annotator", 403), ("viewer", 403), ("stranger", 404)])
def test_only_managers_and_owners_import_a_model(project, client_for, user, status):
    upload = SimpleUploadedFile("model.zip", package_bytes(), content_type="application/zip")
    answer = client_for(user).post(
        f"/api/projects/{project.pk}/model-versions/import/", {"file": upload}, format="multipart"
    )
    assert answer.status_code == status
    assert not ModelVersion.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_an_import_without_a_file_says_how_to_send_it(project, client_for):
    answer = client_for("owner").post(
        f"/api/projects/{project.pk}/model-versions/import/", {}, format="multipart"
    )
    assert answer.status_code == 400 and "`file`" in str(answer.json())
