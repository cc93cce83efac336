"""Exported labels imported into a new project through the annotation importer give back the same
label maps; and the command writes the zip the API streams."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from labeling import selectors, services
from labeling.models import Project
from tests.training.exports.conftest import unzip
from tests.training.predict.conftest import add_images


def export(client: Any, project: Project, query: str) -> dict[str, bytes]:
    response = client.get(f"/api/projects/{project.pk}/export/?{query}")
    assert response.status_code == 200
    return unzip(b"".join(response))


def copy_project(users: dict[str, Any]) -> Project:
    """Another project with the same images (same files, same names) and classes, unlabelled."""
    copy = services.project_create(name="Copy", owner=users["owner"])
    services.label_class_create(project=copy, name="nucleus", color="#ff0000", countable=True)
    add_images(copy, users["owner"], [2, 3, 1])
    return copy


def import_files(
    copy: Project, users: dict[str, Any], files: dict[str, bytes], folder: str, **options: Any
) -> None:
    uploads = [services.Upload(name, data) for name, data in files.items() if name.startswith(folder)]
    services.annotations_import(
        project=copy, author=users["owner"], files=uploads, options=services.ImportOptions(**options)
    )


def dense(project: Project, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    image = selectors.images_of(project).get(name=name)
    found = selectors.dense_maps(image)
    assert found is not None
    return found[1], found[2]


def test_class_masks_imported_into_a_new_project_give_the_same_label_maps(labelled, users, client_for):
    files = export(client_for("viewer"), labelled.project, "what=human&as=classes")
    copy = copy_project(users)

    import_files(copy, users, files, "human/class_masks/", label_images="classes", rest="unknown")

    for image in labelled.images[:2]:
        assert np.array_equal(dense(copy, image.name)[0], selectors.human_label_map(image))


def test_instance_masks_and_geojson_imported_give_the_same_objects(labelled, users, client_for):
    files = export(client_for("viewer"), labelled.project, "what=human&as=instances,geojson")
    original_classes = selectors.human_label_map(labelled.images[0])
    exported_ids = files["human/instance_masks/d0.tif"]
    by_instances, by_shapes = (
        copy_project(users),
        services.project_create(name="Shapes", owner=users["owner"]),
    )
    services.label_class_create(project=by_shapes, name="nucleus", color="#ff0000", countable=True)
    add_images(by_shapes, users["owner"], [2, 3, 1])

    import_files(
        by_instances, users, {"d0.tif": exported_ids}, "d0", label_images="instances", class_name="nucleus"
    )
    import_files(by_shapes, users, files, "human/geojson/d0")

    classes, instances = dense(by_instances, "d0")
    original = selectors.dense_maps(labelled.images[0])
    assert original is not None and original[2] is not None
    assert np.array_equal(classes, original_classes)
    assert instances is not None and len(np.unique(instances)) == len(np.unique(original[2]))
    # The QuPath shapes cover exactly the objects' pixels (pixel-edge polygons, centre rule).
    assert np.array_equal(dense(by_shapes, "d0")[0], original_classes)


def test_the_command_writes_the_export_with_the_same_members(labelled, client_for, tmp_path):
    output = tmp_path / "out.zip"
    call_command(
        "export_project",
        labelled.project.name,
        "--output",
        str(output),
        "--what",
        "human",
        "--as",
        "classes,coco",
    )

    with zipfile.ZipFile(output) as written:
        names = set(written.namelist())
    assert names == set(export(client_for("viewer"), labelled.project, "what=human&as=classes,coco"))
    assert not list(tmp_path.glob(".*partial"))


def test_the_command_refuses_a_bad_option_and_writes_nothing(labelled, tmp_path):
    output = tmp_path / "out.zip"
    with pytest.raises(CommandError, match="as: 'png' is not a format"):
        call_command("export_project", labelled.project.name, "--output", str(output), "--as", "png")
    with pytest.raises(CommandError, match="no live project"):
        call_command("export_project", "Nope", "--output", str(output))
    assert not output.exists()


def test_the_zip_is_streamed_in_pieces_not_built_whole(labelled, client_for):
    response = client_for("viewer").get(f"/api/projects/{labelled.project.pk}/export/?as=classes,instances")
    pieces = list(response)
    assert len(pieces) > 3  # member by member
    assert zipfile.ZipFile(io.BytesIO(b"".join(pieces))).testzip() is None
