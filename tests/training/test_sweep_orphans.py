"""`manage.py sweep_orphans`: stored files no row names are removed once older than the grace period."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from labeling import services
from tests.factories import png_bytes
from training.models import RunMetric, TrainingRun
from training.orphans import stored_files

pytestmark = pytest.mark.django_db


def stored(name: str, *, age_seconds: float) -> str:
    """A file in the default storage, last written `age_seconds` ago."""
    name = default_storage.save(name, ContentFile(b"bytes"))
    path = Path(settings.MEDIA_ROOT) / name
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return name


def age(name: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(Path(settings.MEDIA_ROOT) / name, (then, then))


def sweep(*args: str) -> str:
    out = io.StringIO()
    call_command("sweep_orphans", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def image(project, users):
    field = (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8)
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("cells.png", png_bytes(field))]
    )
    return image


def test_it_removes_old_orphans_and_keeps_every_file_a_row_names(image, project, users):
    old = settings.ORPHAN_GRACE_SECONDS + 60
    named = list(stored_files(default_storage))  # the upload's original, renditions, thumbnail
    assert len(named) >= 2
    for name in named:
        age(name, old)
    run = TrainingRun.objects.create(project=project, created_by=users["owner"], config={}, label_snapshot=[])
    preview = stored("previews/run-1/epoch-1-image-1.png", age_seconds=old)
    RunMetric.objects.create(run=run, seq=1, kind="preview", step=1, epoch=1, values={"file": preview})
    orphan = stored("originals/killed-mid-upload.png", age_seconds=old)

    assert "originals/killed-mid-upload.png" in sweep("--dry-run") and default_storage.exists(orphan)
    output = sweep()

    assert "removed 1 orphan file(s)" in output
    assert not default_storage.exists(orphan)
    assert all(default_storage.exists(name) for name in [*named, preview])


def test_it_never_removes_a_file_younger_than_the_grace_period(image):
    young = stored("labelmaps/in-flight.png", age_seconds=settings.ORPHAN_GRACE_SECONDS - 60)
    assert "removed 0 orphan file(s)" in sweep()
    assert default_storage.exists(young)
    assert "removed 1 orphan file(s)" in sweep("--grace-seconds", "0")
    assert not default_storage.exists(young)
