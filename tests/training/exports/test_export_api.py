"""GET /api/projects/<id>/export/: each format read back with the field's own libraries, and the
refusals."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
import shapely
import tifffile
from ome_types import from_xml
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from shapely.geometry import shape

from labeling import selectors, services
from tests.training.exports.conftest import unzip
from tests.training.predict.conftest import threshold_prediction


def export(client: Any, project: Any, query: str) -> dict[str, bytes]:
    response = client.get(f"/api/projects/{project.pk}/export/?{query}")
    assert response.status_code == 200, response.content
    assert response.streaming and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    return unzip(b"".join(response))


def test_a_viewer_exports_class_and_instance_masks_named_like_the_images(labelled, client_for):
    files = export(client_for("viewer"), labelled.project, "what=human&as=classes,instances")

    for image in labelled.images[:2]:
        classes = tifffile.imread(io.BytesIO(files[f"human/class_masks/{image.name}.tif"]))
        assert classes.dtype == np.uint16
        assert np.array_equal(classes, selectors.human_label_map(image))
        instances = tifffile.imread(io.BytesIO(files[f"human/instance_masks/{image.name}.tif"]))
        assert instances.dtype == np.uint16 and instances.shape == (image.height, image.width)
    # d0's imported instances are kept; d1's scribble made its dense instances stale, so its
    # objects are its regions: the scribble joins none of the 3 discs, and is one more object.
    d0 = tifffile.imread(io.BytesIO(files["human/instance_masks/d0.tif"]))
    d1 = tifffile.imread(io.BytesIO(files["human/instance_masks/d1.tif"]))
    assert int(d0.max()) == 2 and int(d1.max()) == 4
    assert "human/class_masks/d2.tif" not in files  # unlabelled: nothing to export
    manifest = json.loads(files["manifest.json"])
    assert [image["name"] for image in manifest["images"]] == ["d0", "d1"]
    assert {c["name"]: c["color"] for c in manifest["classes"]}["nucleus"] == "#ff0000"
    live = {
        pk: version
        for pk, version in selectors.human_layer_versions(labelled.images[1], ["dense", "scribble"])
    }
    assert all(live.get(pk) == version for pk, version in manifest["label_snapshot"] if pk in live)
    assert manifest["app_version"] and manifest["model_version"] is None


def test_coco_reads_back_with_pycocotools_with_every_object_and_its_area(labelled, client_for):
    files = export(client_for("viewer"), labelled.project, "what=human&as=coco,instances")
    coco = COCO()
    coco.dataset = json.loads(files["human/coco.json"])
    coco.createIndex()

    for image in labelled.images[:2]:
        instances = tifffile.imread(io.BytesIO(files[f"human/instance_masks/{image.name}.tif"]))
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image.pk]))
        assert len(annotations) == int(instances.max())
        areas = sorted(int(np.sum(instances == n)) for n in range(1, int(instances.max()) + 1))
        assert sorted(int(a["area"]) for a in annotations) == areas
        decoded = sorted(int(coco.annToMask(a).sum()) for a in annotations)
        assert decoded == areas
    (category,) = coco.loadCats(coco.getCatIds())
    assert category["name"] == "nucleus" and category["id"] == 2
    assert coco_mask.area(coco.annToRLE(coco.loadAnns(coco.getAnnIds())[0])) > 0


def test_geojson_is_valid_polygons_classified_as_qupath_reads_them(labelled, client_for):
    files = export(client_for("viewer"), labelled.project, "what=human&as=geojson,instances")

    collection = json.loads(files["human/geojson/d1.geojson"])
    instances = tifffile.imread(io.BytesIO(files["human/instance_masks/d1.tif"]))
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == int(instances.max())
    for feature in collection["features"]:
        polygon = shape(feature["geometry"])
        assert polygon.is_valid and polygon.geom_type in ("Polygon", "MultiPolygon")
        assert feature["properties"]["classification"] == {"name": "nucleus", "color": [255, 0, 0]}
        # Along the pixels' edges: the area is the object's pixel count.
        assert polygon.area == np.sum(instances == feature["properties"]["object"])
    assert shapely.union_all([shape(f["geometry"]) for f in collection["features"]]).area == np.sum(
        instances > 0
    )


def test_ome_tiff_carries_the_image_the_labels_and_the_pixel_size(labelled, client_for):
    image = labelled.images[0]
    services.image_update(image=image, pixel_size_x=0.25, pixel_size_y=0.25)
    files = export(client_for("viewer"), labelled.project, "what=human&as=ome")

    data = files[f"human/ome/{image.name}.ome.tif"]
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        assert tif.is_ome
        pixels = tif.asarray()
        ome = from_xml(tif.ome_metadata)
    channels = [channel.name for channel in ome.images[0].pixels.channels]
    assert channels == ["gray", "classes", "instances"]
    assert ome.images[0].pixels.physical_size_x == pytest.approx(0.25)
    assert pixels.shape == (3, image.height, image.width)
    assert np.array_equal(pixels[0], selectors.all_planes(image)["gray"])
    assert np.array_equal(pixels[1], selectors.human_label_map(image))


def test_predictions_of_a_version_export_with_their_measurements(
    project, users, client_for, version, labelled
):
    for image in labelled.images:
        threshold_prediction(version, image)
    files = export(
        client_for("viewer"), project, f"what=predictions&model_version={version.pk}&as=csv,classes"
    )

    rows = files["predictions/measurements.csv"].decode().splitlines()
    assert rows[0].startswith("image,model_version,")
    assert len(rows) == 1 + 2 + 3 + 1  # one row per disc
    assert sorted(name for name in files if name.startswith("predictions/class_masks/")) == [
        f"predictions/class_masks/d{n}.tif" for n in range(3)
    ]
    manifest = json.loads(files["manifest.json"])
    assert manifest["model_version"]["id"] == version.pk and manifest["run"]["id"] == version.run_id


def test_accepted_labels_are_the_dense_masks_that_came_from_a_model(
    project, users, client_for, version, labelled
):
    from training.predict.accept import prediction_accept  # the accept service under its real path

    prediction = threshold_prediction(version, labelled.images[2])
    prediction_accept(prediction=prediction, author=users["annotator"], base_version=0)
    files = export(client_for("viewer"), project, "what=accepted&as=classes")

    assert [name for name in files if name.endswith(".tif")] == ["accepted/class_masks/d2.tif"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["images"][0]["source"]["provenance"]["model_version"] == version.pk


@pytest.mark.parametrize(
    ("query", "option"),
    [
        ("what=everything", "what"),
        ("as=classes,jpeg", "as"),
        ("what=predictions", "model_version"),
        ("what=predictions&model_version=abc", "model_version"),
        ("what=human&model_version=3", "model_version"),
        ("wat=human", "wat"),
    ],
)
def test_a_bad_option_is_a_400_naming_it(labelled, client_for, query, option):
    response = client_for("viewer").get(f"/api/projects/{labelled.project.pk}/export/?{query}")
    assert response.status_code == 400 and option in response.json()


def test_a_version_of_another_project_is_refused_and_strangers_see_nothing(labelled, client_for, users):
    other = services.project_create(name="Other", owner=users["owner"])
    from tests.versions import random_version  # a version of the other project

    elsewhere = random_version(other, users["owner"])
    query = f"what=predictions&model_version={elsewhere.pk}"
    assert client_for("viewer").get(f"/api/projects/{labelled.project.pk}/export/?{query}").status_code == 400
    assert client_for("stranger").get(f"/api/projects/{labelled.project.pk}/export/").status_code == 404


def test_a_project_past_the_limit_is_refused_with_what_to_do(labelled, client_for, settings):
    settings.EXPORT_MAX_IMAGES = 2
    response = client_for("viewer").get(f"/api/projects/{labelled.project.pk}/export/")
    assert response.status_code == 400 and "export_project" in response.json()["detail"]
