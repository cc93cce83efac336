"""Measurements out of the API: per prediction, per project (streamed) and per human dense mask,
as JSON and CSV, on images of discs whose objects are known."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pytest

from labeling import services
from tests.factories import png_bytes
from training.ml.measure import SHAPE_COLUMNS

from .conftest import add_images, threshold_prediction

pytestmark = pytest.mark.django_db

INTENSITY = ["mean_intensity_gray", "integrated_intensity_gray"]


def csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def test_a_predictions_measurements_count_and_measure_each_disc(project, users, client_for, version):
    (image,) = add_images(project, users["owner"], [3])
    services.image_update(image=image, pixel_size_x=0.5, pixel_size_y=0.5)
    prediction = threshold_prediction(version, image)
    viewer = client_for("viewer")

    measured = viewer.get(f"/api/predictions/{prediction.pk}/measurements/").json()
    assert measured["counts"] == {"2": 3} and measured["image_name"] == "d0"
    assert measured["columns"] == [*SHAPE_COLUMNS, *INTENSITY]
    assert len(measured["objects"]) == 3
    for row in measured["objects"]:
        assert row["class"] == "nucleus" and row["area_px"] == 81  # a disc of radius 5
        assert row["area_um2"] == pytest.approx(81 * 0.25)
        assert row["centroid_y"] == pytest.approx(16) and row["mean_intensity_gray"] == pytest.approx(255)
    assert sorted(row["centroid_x"] for row in measured["objects"]) == pytest.approx([8, 22, 36])

    rows = csv_rows(viewer.get(f"/api/predictions/{prediction.pk}/measurements.csv"))
    assert rows[0] == ["image", "model_version", *SHAPE_COLUMNS, *INTENSITY]
    assert len(rows) == 1 + 3 and {row[0] for row in rows[1:]} == {"d0"}
    instances = viewer.get(f"/api/predictions/{prediction.pk}/instances/")
    assert instances.status_code == 200 and instances["Content-Type"] == "image/png"


def test_the_project_csv_and_json_have_one_row_per_object_of_every_image(project, users, client_for, version):
    images = add_images(project, users["owner"], [1, 3, 2])
    for image in images:
        threshold_prediction(version, image)
    viewer = client_for("viewer")

    response = viewer.get(f"/api/projects/{project.pk}/measurements.csv")
    assert response.status_code == 200 and response.streaming
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["image", "model_version", *SHAPE_COLUMNS, *INTENSITY]
    assert len(rows) == 1 + 6
    assert [row[0] for row in rows[1:]] == ["d0", "d1", "d1", "d1", "d2", "d2"]
    assert {row[1] for row in rows[1:]} == {str(version.pk)}

    streamed = viewer.get(f"/api/projects/{project.pk}/measurements/?model_version={version.pk}")
    parsed = json.loads(b"".join(streamed))
    assert parsed["model_version"] == version.pk and len(parsed["objects"]) == 6
    assert parsed["objects"][0]["image"] == "d0" and parsed["objects"][0]["area_px"] == 81


def test_project_measurements_need_a_version_that_predicted(project, users, client_for, version):
    add_images(project, users["owner"], [1])
    viewer = client_for("viewer")
    none_yet = viewer.get(f"/api/projects/{project.pk}/measurements/")
    assert none_yet.status_code == 400 and "No model version has predicted" in none_yet.json()["detail"]
    assert viewer.get(f"/api/projects/{project.pk}/measurements/?model_version=999999").status_code == 400
    assert client_for("stranger").get(f"/api/projects/{project.pk}/measurements.csv").status_code == 404


def test_a_dense_mask_is_counted_from_its_imported_instances_then_as_predictions_are(
    project, users, client_for
):
    (image,) = add_images(project, users["owner"], [2])
    mask = np.ones((64, 64), np.uint8)
    instances = np.zeros((64, 64), np.uint16)
    mask[10:20, 10:30] = 2
    instances[10:20, 10:20] = 5  # two touching objects the import said apart
    instances[10:20, 20:30] = 6
    services.annotation_save(
        image=image,
        author=users["owner"],
        kind="dense",
        base_version=0,
        data={},
        mask=png_bytes(mask),
        instances=png_bytes(instances),
    )
    viewer = client_for("viewer")
    imported = viewer.get(f"/api/images/{image.pk}/dense/measurements/").json()
    assert imported["counts"] == {"2": 2}
    assert sorted(row["area_px"] for row in imported["objects"]) == [100, 100]

    stroke = {"class_index": 2, "radius": 2, "points": [[50, 50], [50, 51]]}
    services.annotation_save(
        image=image, author=users["owner"], kind="dense", base_version=1, data={"strokes": [stroke]}
    )
    painted = viewer.get(f"/api/images/{image.pk}/dense/measurements/").json()
    assert painted["counts"] == {"2": 2}  # split again: the bar stays one object, the stroke is one
    rows = csv_rows(viewer.get(f"/api/images/{image.pk}/dense/measurements.csv"))
    assert rows[0][:2] == ["image", "model_version"] and len(rows) == 3 and rows[1][1] == "human"


def test_an_image_without_a_dense_mask_has_no_dense_measurements(project, users, client_for):
    (image,) = add_images(project, users["owner"], [1])
    refused = client_for("viewer").get(f"/api/images/{image.pk}/dense/measurements/")
    assert refused.status_code == 400 and "no dense mask" in refused.json()["detail"]
