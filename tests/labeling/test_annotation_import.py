"""Existing annotations in: label images, COCO and QuPath GeoJSON attached to images by name as
dense layers with their instance maps, through the API; every refusal stores nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from django.conf import settings
from django.test import override_settings
from pycocotools import mask as mask_utils
from shapely.geometry import Point, Polygon, mapping

from labeling import services
from labeling.models import Annotation, AnnotationRevision, LabelClass
from labeling.selectors import instance_map_at, label_map_at
from labeling.services import annotation_import
from labeling.synthetic import synthetic_field
from tests.factories import named, png_bytes, png_declaring, zip_bytes

pytestmark = pytest.mark.django_db

SIZE = (40, 48)  # height, width of every image here


@pytest.fixture
def fields():
    return {
        name: synthetic_field(seed=seed, height=SIZE[0], width=SIZE[1], nuclei=5, radius=(3, 7))
        for seed, name in enumerate(["a", "b"], start=1)
    }


@pytest.fixture
def images(project, users, fields):
    uploads = [services.Upload(f"{name}.png", png_bytes(field.brightfield)) for name, field in fields.items()]
    made = services.image_ingest(project=project, uploader=users["owner"], uploads=uploads)
    return {image.name: image for image in made}


def send(client, project, *files, **fields):
    return client.post(
        f"/api/projects/{project.pk}/annotations/import/",
        {"files": list(files), **fields},
        format="multipart",
    )


def label_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "labelmaps"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def assert_nothing_stored(project, classes: int = 2) -> None:
    assert not Annotation.objects.exists()
    assert not AnnotationRevision.objects.exists()
    assert LabelClass.objects.filter(project=project).count() == classes
    assert label_files() == []


def refused(response, words: str) -> None:
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"], response.json()["detail"]


def dense(image):
    return image.annotations.get(kind="dense")


# Label images ------------------------------------------------------------------------------


def test_an_instance_label_image_round_trips_to_an_identical_label_map(
    client_for, project, images, fields, nucleus
):
    instances = fields["a"].instances
    response = send(
        client_for("manager"), project, named(png_bytes(instances), "a.png"), class_name="nucleus"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["images"] == [images["a"].pk]
    assert body["objects"] == len(np.unique(instances)) - 1
    layer = dense(images["a"])
    assert np.array_equal(label_map_at(layer), np.where(instances > 0, nucleus.index, 1))
    assert np.array_equal(instance_map_at(layer), instances)


def test_a_32_bit_instance_tiff_keeps_its_objects(client_for, project, images, fields):
    instances = fields["b"].instances.astype(np.uint32)
    instances[instances > 0] += 100_000  # ids past 16 bits, as napari may write them
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, instances)
    response = send(client_for("manager"), project, named(buffer.getvalue(), "b.tif"), class_name="nucleus")
    assert response.status_code == 201, response.content
    kept = instance_map_at(dense(images["b"]))
    pairs = set(zip(instances.ravel().tolist(), kept.ravel().tolist(), strict=True))
    assert len(pairs) == len(np.unique(instances)) and (0, 0) in pairs  # the same partition


def test_a_class_label_image_maps_values_through_a_table_and_can_create_classes(client_for, project, images):
    classes = np.zeros(SIZE, np.uint8)
    classes[:10], classes[10:20], classes[20:30] = 1, 2, 3
    response = send(
        client_for("manager"),
        project,
        named(png_bytes(classes), "a.png"),
        label_images="classes",
        classes=json.dumps({"1": "background", "2": "nucleus", "3": "debris"}),
        create_classes="true",
        rest="unknown",
    )
    assert response.status_code == 201, response.content
    assert response.json()["classes_created"] == ["debris"]
    debris = project.classes.get(name="debris")
    layer = dense(images["a"])
    expected = np.choose(classes, [0, 1, project.classes.get(name="nucleus").index, debris.index])
    assert np.array_equal(label_map_at(layer), expected)
    assert instance_map_at(layer) is None


def test_a_class_label_image_with_values_that_are_no_class_is_refused(client_for, project, images):
    classes = np.full(SIZE, 9, np.uint8)
    response = send(
        client_for("manager"), project, named(png_bytes(classes), "a.png"), label_images="classes"
    )
    refused(response, "class values [9]")
    assert_nothing_stored(project)


def test_a_zip_of_label_images_attaches_each_to_its_image(client_for, project, images, fields):
    members = {f"masks/{name}.png": png_bytes(field.instances) for name, field in fields.items()}
    members["__MACOSX/masks/._a.png"] = b"resource fork"
    response = send(
        client_for("manager"), project, named(zip_bytes(members), "masks.zip"), class_name="nucleus"
    )
    assert response.status_code == 201, response.content
    assert sorted(response.json()["images"]) == sorted(image.pk for image in images.values())
    for name, field in fields.items():
        assert np.array_equal(instance_map_at(dense(images[name])), field.instances)


# COCO --------------------------------------------------------------------------------------


def coco_of(instances_by_file: dict[str, np.ndarray], category: str = "nucleus") -> dict:
    """COCO written by pycocotools from known instance maps: one RLE annotation per object."""
    document = {"images": [], "annotations": [], "categories": [{"id": 7, "name": category}]}
    for image_id, (file_name, instances) in enumerate(instances_by_file.items(), start=1):
        height, width = instances.shape
        document["images"].append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        for value in np.unique(instances[instances > 0]):
            rle = mask_utils.encode(np.asfortranarray((instances == value).astype(np.uint8)))
            document["annotations"].append(
                {
                    "id": len(document["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": 7,
                    "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
                    "area": float(mask_utils.area(rle)),
                    "bbox": mask_utils.toBbox(rle).tolist(),
                    "iscrowd": 0,
                }
            )
    return document


def object_areas(instances: np.ndarray) -> list[int]:
    return sorted(np.bincount(instances.ravel())[1:][np.bincount(instances.ravel())[1:] > 0].tolist())


def test_coco_written_by_pycocotools_imports_with_the_same_objects_and_areas(
    client_for, project, images, fields
):
    document = coco_of({"images/a.png": fields["a"].instances, "b.png": fields["b"].instances})
    data = json.dumps(document).encode()
    response = send(client_for("manager"), project, named(data, "instances.json"))
    assert response.status_code == 201, response.content
    assert response.json()["objects"] == len(document["annotations"])
    for image_id, name in ((1, "a"), (2, "b")):
        coco_areas = sorted(a["area"] for a in document["annotations"] if a["image_id"] == image_id)
        assert object_areas(instance_map_at(dense(images[name]))) == coco_areas


def test_coco_polygons_are_drawn_and_boxes_alone_are_skipped(client_for, project, images):
    document = {
        "images": [{"id": 3, "file_name": "a.png", "height": SIZE[0], "width": SIZE[1]}],
        "categories": [{"id": 1, "name": "nucleus"}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 1, "segmentation": [[10, 10, 30, 10, 30, 20, 10, 20]]},
            {"id": 2, "image_id": 3, "category_id": 1, "bbox": [0, 0, 5, 5]},
        ],
    }
    response = send(client_for("manager"), project, named(json.dumps(document).encode(), "coco.json"))
    assert response.status_code == 201, response.content
    assert (response.json()["objects"], response.json()["skipped_shapes"]) == (1, 1)
    area = int((instance_map_at(dense(images["a"])) == 1).sum())
    assert abs(area - 20 * 10) <= 2 * (20 + 10)  # within one pixel of the outline


def test_a_coco_file_naming_unknown_images_is_refused(client_for, project, images, fields):
    document = coco_of({"a.png": fields["a"].instances, "elsewhere.png": fields["b"].instances})
    response = send(client_for("manager"), project, named(json.dumps(document).encode(), "coco.json"))
    refused(response, "elsewhere")
    assert_nothing_stored(project)


def test_classes_a_file_names_that_do_not_exist_are_refused_unless_created(
    client_for, project, images, fields
):
    data = json.dumps(coco_of({"a.png": fields["a"].instances}, category="mitochondrion")).encode()
    refused(send(client_for("manager"), project, named(data, "coco.json")), "['mitochondrion']")
    assert_nothing_stored(project)
    response = send(client_for("manager"), project, named(data, "coco.json"), create_classes="true")
    assert response.status_code == 201, response.content
    assert project.classes.get(name="mitochondrion").countable


# GeoJSON -----------------------------------------------------------------------------------


def feature(geometry, classification: str | None) -> dict:
    properties = {"objectType": "annotation"}
    if classification:
        properties["classification"] = {"name": classification, "color": [255, 0, 0]}
    return {"type": "Feature", "geometry": mapping(geometry), "properties": properties}


def test_qupath_geojson_polygons_import_with_their_areas_within_rasterisation(client_for, project, images):
    shapes = [
        (Point(12, 12).buffer(7), "nucleus"),
        (
            Polygon([(25, 5), (45, 5), (45, 30), (25, 30)], [[(30, 10), (40, 10), (40, 20), (30, 20)]]),
            "debris",
        ),
        (Point(10, 32).buffer(5), None),
    ]
    collection = {"type": "FeatureCollection", "features": [feature(g, c) for g, c in shapes]}
    collection["features"].append(feature(Point(3, 3), "nucleus"))  # a point is no mask
    response = send(
        client_for("manager"),
        project,
        named(json.dumps(collection).encode(), "a.tif.geojson"),
        class_name="nucleus",
        create_classes="true",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["objects"], response.json()["skipped_shapes"]) == (3, 1)
    instances = instance_map_at(dense(images["a"]))
    for number, (geometry, _) in enumerate(shapes, start=1):
        assert abs(int((instances == number).sum()) - geometry.area) <= geometry.length / 2
    classes = label_map_at(dense(images["a"]))
    assert classes[20, 35] == project.classes.get(name="debris").index
    assert classes[15, 35] == 1  # the hole is background


def test_geojson_shapes_without_a_classification_need_a_class_name(client_for, project, images):
    collection = [feature(Point(12, 12).buffer(5), None)]
    response = send(client_for("manager"), project, named(json.dumps(collection).encode(), "a.geojson"))
    refused(response, "1 shapes have no classification")
    assert_nothing_stored(project)


# Layers that exist already ---------------------------------------------------------------------


def test_images_that_have_a_dense_mask_are_refused_skipped_or_given_a_new_version(
    client_for, project, images, fields
):
    manager = client_for("manager")
    first = named(png_bytes(fields["a"].instances), "a.png")
    assert send(manager, project, first, class_name="nucleus").status_code == 201
    again = png_bytes(fields["b"].instances)
    refused(send(manager, project, named(again, "a.png"), class_name="nucleus"), "already have dense masks")
    skipped = send(manager, project, named(again, "a.png"), class_name="nucleus", existing="skip").json()
    assert (skipped["images"], skipped["skipped"][0]["image"]) == ([], "a")
    replaced = send(manager, project, named(again, "a.png"), class_name="nucleus", existing="replace")
    assert replaced.status_code == 201
    layer = dense(images["a"])
    assert layer.version == 2
    assert np.array_equal(instance_map_at(layer), fields["b"].instances)
    assert np.array_equal(instance_map_at(layer, 1), fields["a"].instances)  # the old one is kept


# Refusals ----------------------------------------------------------------------------------


def test_a_corrupt_zip_is_refused(client_for, project, images):
    response = send(client_for("manager"), project, named(b"PK\x03\x04" + bytes(100), "labels.zip"))
    refused(response, "not a readable zip file")
    assert_nothing_stored(project)


@pytest.mark.parametrize("member", ["../a.png", "/etc/a.png", "C:/a.png", "masks/../../a.png"])
def test_a_zip_with_a_path_outside_its_folder_is_refused(client_for, project, images, fields, member):
    data = zip_bytes({"b.png": png_bytes(fields["b"].instances), member: png_bytes(fields["a"].instances)})
    response = send(client_for("manager"), project, named(data, "labels.zip"), class_name="nucleus")
    refused(response, "outside the zip's folder")
    assert_nothing_stored(project)


def test_a_zip_with_a_link_is_refused(client_for, project, images):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("a.png")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    refused(send(client_for("manager"), project, named(buffer.getvalue(), "l.zip")), "is a link")
    assert_nothing_stored(project)


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        ({"IMPORT_MAX_ZIP_ENTRIES": 1}, "IMPORT_MAX_ZIP_ENTRIES"),
        ({"IMPORT_MAX_UNCOMPRESSED_BYTES": 100_000}, "IMPORT_MAX_UNCOMPRESSED_BYTES"),
        ({"IMPORT_MAX_FILE_BYTES": 60_000}, "IMPORT_MAX_FILE_BYTES"),
    ],
)
def test_a_zip_over_a_limit_is_refused_before_anything_is_extracted(
    client_for, project, images, monkeypatch, limit, words
):
    data = zip_bytes({"a.png": bytes(64_000), "b.png": bytes(64_000)})  # compresses to almost nothing
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("a member was extracted"))
    with override_settings(**limit):
        refused(send(client_for("manager"), project, named(data, "bomb.zip")), words)
    assert_nothing_stored(project)


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"image,x,y\na,1,2\n", "points.csv", "not a format annotations are imported from"),
        (b'{"rows": []}', "table.json", "neither COCO nor GeoJSON"),
        (b"{not json", "broken.json", "not valid JSON"),
        (png_bytes(np.zeros((4, 4, 3), np.uint8)), "a.png", "not a label image"),
    ],
    ids=["csv", "other-json", "broken-json", "rgb-png"],
)
def test_an_unsupported_format_is_refused(client_for, project, images, data, name, words):
    refused(send(client_for("manager"), project, named(data, name), class_name="nucleus"), words)
    assert_nothing_stored(project)


def test_a_label_image_of_another_size_is_refused(client_for, project, images):
    data = png_bytes(np.ones((10, 10), np.uint16))
    refused(
        send(client_for("manager"), project, named(data, "a.png"), class_name="nucleus"),
        "not of the image's size",
    )
    assert_nothing_stored(project)


def test_a_label_image_declaring_more_pixels_than_allowed_is_refused_before_decoding(
    client_for, project, images
):
    data = png_declaring(16000, 16000)  # 256 megapixels > MAX_IMAGE_PIXELS, in a few hundred bytes
    refused(
        send(client_for("manager"), project, named(data, "a.png"), class_name="nucleus"),
        "declares 16000x16000 pixels",
    )
    assert_nothing_stored(project)


def test_a_failure_while_writing_leaves_no_label_file(client_for, project, images, fields, monkeypatch):
    real = annotation_import.annotation_save
    saves = []

    def second_fails(**kwargs):
        saves.append(kwargs["image"].name)
        if len(saves) == 2:
            raise RuntimeError("disk full (test)")
        return real(**kwargs)

    monkeypatch.setattr(annotation_import, "annotation_save", second_fails)
    members = {f"{name}.png": png_bytes(field.instances) for name, field in fields.items()}
    with pytest.raises(RuntimeError, match="disk full"):
        send(client_for("manager"), project, named(zip_bytes(members), "m.zip"), class_name="nucleus")
    assert_nothing_stored(project)


def test_only_managers_import_and_strangers_see_no_project(client_for, project, images, fields):
    data = png_bytes(fields["a"].instances)
    assert (
        send(client_for("annotator"), project, named(data, "a.png"), class_name="nucleus").status_code == 403
    )
    assert (
        send(client_for("stranger"), project, named(data, "a.png"), class_name="nucleus").status_code == 404
    )
    assert_nothing_stored(project)


def test_a_label_image_named_as_cellpose_names_it_finds_its_image(client_for, project, images, fields):
    data = png_bytes(fields["b"].instances)
    response = send(client_for("manager"), project, named(data, "b_cp_masks.png"), class_name="nucleus")
    assert response.status_code == 201, response.content
    assert np.array_equal(instance_map_at(dense(images["b"])), fields["b"].instances)


def test_coco_uncompressed_rle_is_decoded_by_pycocotools(client_for, project, images):
    mask = np.zeros(SIZE, np.uint8)
    mask[5:15, 8:20] = 1
    runs, previous, count = [], 0, 0
    for value in mask.ravel(order="F"):  # COCO's uncompressed RLE: run lengths, column by column
        if value != previous:
            runs.append(count)
            previous, count = value, 0
        count += 1
    runs.append(count)
    document = {
        "images": [{"id": 1, "file_name": "a.png", "height": SIZE[0], "width": SIZE[1]}],
        "categories": [{"id": 1, "name": "nucleus"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 1,
                "segmentation": {"size": list(SIZE), "counts": runs},
            }
        ],
    }
    response = send(client_for("manager"), project, named(json.dumps(document).encode(), "crowd.json"))
    assert response.status_code == 201, response.content
    assert np.array_equal(instance_map_at(dense(images["a"])), mask.astype(np.uint16))
