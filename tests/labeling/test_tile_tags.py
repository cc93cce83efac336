"""Tile tags: a class present / absent in rectangles of an image, stored as a versioned layer."""

from __future__ import annotations

import pytest
from django.test import override_settings

from labeling import services
from labeling.errors import InvalidInput
from labeling.models import Annotation, AnnotationRevision
from labeling.tiletags import TileLimits, TileTag, parse_tiles
from tests.factories import field_png

LIMITS = TileLimits(min_size=16, max_size=64, max_per_image=8)


@pytest.fixture
def image(project, users):
    (image,) = services.image_ingest(
        project=project, uploader=users["manager"], uploads=[services.Upload("f.png", field_png(size=64))]
    )
    return image


def save(client, image, label_class, base_version, tiles):
    body = {
        "kind": "tiles",
        "label_class": label_class.pk,
        "base_version": base_version,
        "data": {"tiles": tiles},
    }
    return client.post(f"/api/images/{image.pk}/annotations/", body, format="json")


# The pure check --------------------------------------------------------------------------------


def test_a_grid_with_a_shorter_last_column_is_valid():
    tiles = parse_tiles(
        {"tiles": [[0, 0, 32, 32, True], [32, 0, 8, 32, False]]},
        image_width=40,
        image_height=32,
        limits=LIMITS,
    )
    assert tiles == [TileTag(0, 0, 32, 32, True), TileTag(32, 0, 8, 32, False)]


@pytest.mark.parametrize(
    ("tiles", "message"),
    [
        ([[0, 0, 8, 8, True]], "smaller than 16 px"),
        ([[0, 0, 128, 32, True]], "outside the image"),
        ([[-1, 0, 32, 32, True]], "outside the image"),
        ([[0, 0, 32, 32, 1]], "Each tile is [x, y, width, height, present]"),
        ([[0, 0, 32.5, 32, True]], "Each tile is"),
        ([[0, 0, 32, 32, True], [0, 0, 32, 32, False]], "given twice"),
        ([[0, 0, 16, 16, True]] * 9, "at most 8 tile tags"),
    ],
)
def test_bad_tiles_are_refused_with_what_to_change(tiles, message):
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_tiles({"tiles": tiles}, image_width=100, image_height=64, limits=LIMITS)


def test_a_tile_larger_than_the_largest_is_refused():
    with pytest.raises(InvalidInput, match="larger than 64 px"):
        parse_tiles({"tiles": [[0, 0, 96, 32, True]]}, image_width=100, image_height=64, limits=LIMITS)


# Through the API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tile_tags_are_saved_versioned_and_restorable(client_for, image, nucleus):
    annotator = client_for("annotator")
    first = save(annotator, image, nucleus, 0, [[0, 0, 32, 32, True], [32, 0, 32, 32, False]])
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["kind"], body["key"], body["label_class"], body["version"]) == (
        "tiles",
        str(nucleus.pk),
        nucleus.pk,
        1,
    )
    assert body["data"] == {"tiles": [[0, 0, 32, 32, True], [32, 0, 32, 32, False]]}
    second = save(annotator, image, nucleus, 1, [[0, 32, 32, 32, False]])
    assert second.json()["version"] == 2 and second.json()["data"] == {"tiles": [[0, 32, 32, 32, False]]}
    restored = annotator.post(
        f"/api/annotations/{body['id']}/restore/", {"version": 1, "base_version": 2}, format="json"
    )
    assert restored.status_code == 200, restored.content
    assert restored.json()["version"] == 3 and restored.json()["data"] == body["data"]


@pytest.mark.django_db
def test_a_tile_outside_the_image_is_a_400_and_stores_nothing(client_for, image, nucleus):
    response = save(client_for("annotator"), image, nucleus, 0, [[48, 48, 32, 32, True]])
    assert response.status_code == 400 and "outside the image (64x64)" in str(response.json())
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_tile_tags_need_a_class_of_the_project(client_for, image):
    body = {"kind": "tiles", "base_version": 0, "data": {"tiles": []}}
    response = client_for("annotator").post(f"/api/images/{image.pk}/annotations/", body, format="json")
    assert response.status_code == 400 and "needs label_class" in str(response.json())


@pytest.mark.django_db
@override_settings(TILE_TAGS_MAX_PER_IMAGE=3)
def test_the_tile_limit_counts_every_class_of_the_image(client_for, image, nucleus, project):
    annotator = client_for("annotator")
    background = project.classes.get(index=1)
    assert (
        save(annotator, image, background, 0, [[0, 0, 32, 32, False], [32, 0, 32, 32, True]]).status_code
        == 201
    )
    over = save(annotator, image, nucleus, 0, [[0, 0, 32, 32, True], [0, 32, 32, 32, True]])
    assert over.status_code == 400 and "at most 3 tile tags" in str(over.json())
    assert not Annotation.objects.filter(key=str(nucleus.pk)).exists()
    # The layer's own earlier tiles do not count against it: a save replaces them.
    three = [[0, 0, 32, 32, True], [32, 0, 32, 32, True], [0, 32, 32, 32, True]]
    assert save(annotator, image, background, 1, three).status_code == 201
    assert save(annotator, image, background, 2, [*three, [32, 32, 32, 32, True]]).status_code == 400


@pytest.mark.django_db
def test_a_stale_tile_save_is_a_409_and_keeps_the_colleagues_tiles(client_for, image, nucleus):
    annotator, owner = client_for("annotator"), client_for("owner")
    created = save(annotator, image, nucleus, 0, [[0, 0, 32, 32, True]]).json()
    assert save(owner, image, nucleus, 1, [[0, 0, 32, 32, True], [32, 32, 32, 32, False]]).status_code == 201
    stale = save(annotator, image, nucleus, 1, [[0, 0, 32, 32, False]])
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    latest = AnnotationRevision.objects.filter(annotation_id=created["id"]).order_by("-version").first()
    assert latest.version == 2 and latest.data["tiles"] == [[0, 0, 32, 32, True], [32, 32, 32, 32, False]]


@pytest.mark.django_db
def test_a_viewer_cannot_tag_tiles(client_for, image, nucleus):
    assert save(client_for("viewer"), image, nucleus, 0, [[0, 0, 32, 32, True]]).status_code == 403
