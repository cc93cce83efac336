"""An object storage (S3) that cannot be reached: the upload answers 503 with a message, not 500."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from botocore.config import Config
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from labeling.models import Image
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_s3() -> dict[str, object]:
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "lesslabel",
                "endpoint_url": f"http://127.0.0.1:{closed_port()}",
                "region_name": "us-east-1",
                "access_key": "key",
                "secret_key": "secret",
                "client_config": Config(connect_timeout=1, retries={"max_attempts": 1}),
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def test_an_upload_while_s3_is_unreachable_answers_503_and_stores_no_row(project, client_for):
    field = (np.arange(32 * 32).reshape(32, 32) % 200).astype(np.uint8)
    upload = SimpleUploadedFile("cells.png", png_bytes(field), content_type="image/png")
    with override_settings(STORAGES=unreachable_s3()):
        answer = client_for("owner").post(
            f"/api/projects/{project.pk}/images/", {"files": [upload]}, format="multipart"
        )
    assert answer.status_code == 503, answer.content
    assert "storage" in answer.json()["detail"] and answer["Retry-After"]
    assert not Image.objects.filter(project=project).exists()
