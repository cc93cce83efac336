"""Migrations that change how stored data is read."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("labeling", "0003_image_pixel_size")]
AFTER = [("labeling", "0004_stacks")]


def migrate(target: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_files_stored_before_the_pages_option_are_marked_as_read_page_by_channel():
    try:
        apps = migrate(BEFORE)
        user = apps.get_model("auth", "User").objects.create(username="old")
        project = apps.get_model("labeling", "Project").objects.create(name="Old", created_by=user)
        image = apps.get_model("labeling", "Image").objects.create(
            project=project, name="old", width=4, height=4, dtype="uint16", uploaded_by=user
        )
        apps.get_model("labeling", "SourceFile").objects.create(
            image=image, file="originals/old.tif", original_name="old.tif", sha256="0" * 64, size=1
        )
        apps = migrate(AFTER)
        (source,) = apps.get_model("labeling", "SourceFile").objects.all()
        assert source.pages == "channels"
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
