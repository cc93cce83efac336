"""Accepting a prediction makes it the dense mask as a revision: attributed, with its model version,
never losing the labels it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import services
from labeling.labelmaps import decode_png_map
from labeling.models import Annotation
from labeling.selectors import label_map_at
from tests.factories import png_bytes

from .conftest import add_images, threshold_prediction

pytestmark = pytest.mark.django_db


def test_accepting_a_prediction_makes_a_dense_revision_by_the_person_with_its_model_version(
    project, users, client_for, version
):
    (image,) = add_images(project, users["owner"], [2])
    prediction = threshold_prediction(version, image)
    accepted = client_for("annotator").post(
        f"/api/predictions/{prediction.pk}/accept/", {"base_version": 0}, format="json"
    )
    assert accepted.status_code == 201, accepted.content
    body = accepted.json()
    assert body["kind"] == "dense" and body["version"] == 1 and body["updated_by"] == "annotator"
    assert body["data"]["provenance"] == {
        "source": "model",
        "model_version": version.pk,
        "prediction": prediction.pk,
    }
    layer = Annotation.objects.get(pk=body["id"])
    predicted = decode_png_map(prediction.mask.read(), what="prediction")
    assert (label_map_at(layer) == predicted).all()
    (revision,) = layer.revisions.all()
    assert revision.author.username == "annotator" and revision.instances  # objects come along


def test_accepting_over_human_labels_asks_first_and_restore_brings_them_back(
    project, users, client_for, version
):
    (image,) = add_images(project, users["owner"], [2])
    human = np.ones((64, 64), np.uint8)
    human[40:50, 40:50] = 2
    layer = services.annotation_save(
        image=image, author=users["owner"], kind="dense", base_version=0, data={}, mask=png_bytes(human)
    )
    prediction = threshold_prediction(version, image)
    annotator = client_for("annotator")
    url = f"/api/predictions/{prediction.pk}/accept/"

    stale = annotator.post(url, {"base_version": 0}, format="json")
    assert stale.status_code == 409 and stale.json()["current_version"] == 1
    assert (label_map_at(Annotation.objects.get(pk=layer.pk)) == human).all()  # nothing written

    assert annotator.post(url, {"base_version": 1}, format="json").status_code == 201
    restored = annotator.post(
        f"/api/annotations/{layer.pk}/restore/", {"version": 1, "base_version": 2}, format="json"
    )
    assert restored.status_code == 200 and restored.json()["version"] == 3
    assert (label_map_at(Annotation.objects.get(pk=layer.pk)) == human).all()


def test_viewers_cannot_accept_and_strangers_do_not_see_the_prediction(project, users, client_for, version):
    (image,) = add_images(project, users["owner"], [1])
    prediction = threshold_prediction(version, image)
    url = f"/api/predictions/{prediction.pk}/accept/"
    assert client_for("viewer").post(url, {"base_version": 0}, format="json").status_code == 403
    assert client_for("stranger").post(url, {"base_version": 0}, format="json").status_code == 404
    assert client_for("stranger").get(f"/api/predictions/{prediction.pk}/measurements/").status_code == 404
    assert not Annotation.objects.filter(image=image).exists()
