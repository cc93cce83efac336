"""The project page's Export dialog: choose the formats, download the zip the server streams."""

from __future__ import annotations

import zipfile

from playwright.sync_api import expect

from labeling import services
from tests.factories import tiff_bytes
from tests.training.exports.conftest import disc_instances
from tests.training.predict.conftest import add_images


def test_a_viewer_downloads_the_labels_as_a_zip_from_the_export_dialog(signed_in, users, project, tmp_path):
    add_images(project, users["owner"], [2])
    services.annotations_import(
        project=project,
        author=users["owner"],
        files=[services.Upload("d0.tif", tiff_bytes(disc_instances(2)))],
        options=services.ImportOptions(label_images="instances", class_name="nucleus"),
    )
    page = signed_in(users["viewer"])
    page.goto(f"/#/projects/{project.pk}")

    page.get_by_test_id("export-open").click()
    dialog = page.get_by_test_id("export-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("COCO", exact=False).uncheck()
    with page.expect_download() as waiting:
        page.get_by_test_id("export-download").click()
    download = waiting.value
    assert download.suggested_filename.endswith(".zip")
    path = tmp_path / "export.zip"
    download.save_as(path)

    with zipfile.ZipFile(path) as zipped:
        names = set(zipped.namelist())
    assert {"manifest.json", "human/class_masks/d0.tif", "human/geojson/d0.geojson"} <= names
    assert "human/coco.json" not in names
