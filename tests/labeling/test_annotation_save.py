"""Saving labels: versions, 409 on stale writes, strokes as deltas, history and restore."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.test import override_settings
from PIL import Image as PILImage

from labeling import services
from labeling.models import AnnotationRevision
from labeling.selectors import label_map_at
from tests.factories import field_png, png_bytes, png_declaring

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(project, users):
    (image,) = services.image_ingest(
        project=project, uploader=users["manager"], uploads=[services.Upload("f.png", field_png(size=64))]
    )
    return image


def save(client, image, **body):
    return client.post(f"/api/images/{image.pk}/annotations/", body, format="json")


def stroke(class_index, points, radius=2.0):
    return {"class_index": class_index, "radius": radius, "points": points}


def mask_of(client, annotation_id, version=None):
    url = f"/api/annotations/{annotation_id}/mask.png" + (f"?version={version}" if version else "")
    response = client.get(url)
    assert response.status_code == 200
    return np.asarray(PILImage.open(io.BytesIO(response.content)))


def test_a_tag_is_saved_and_versioned(client_for, image, nucleus):
    annotator = client_for("annotator")
    first = save(annotator, image, kind="tag", label_class=nucleus.pk, base_version=0, data={"present": True})
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["version"], body["data"], body["created_by"]) == (1, {"present": True}, "annotator")
    second = save(
        annotator, image, kind="tag", label_class=nucleus.pk, base_version=1, data={"present": False}
    )
    assert second.json()["version"] == 2 and second.json()["data"] == {"present": False}


def test_a_stale_write_gets_409_and_changes_nothing(client_for, image, nucleus):
    annotator, owner = client_for("annotator"), client_for("owner")
    body = {"kind": "scribble", "base_version": 0, "data": {"strokes": [stroke(2, [[5, 5], [20, 5]])]}}
    created = save(annotator, image, **body).json()
    assert save(owner, image, **{**body, "base_version": 1}).status_code == 201
    stale = save(
        annotator, image, **{**body, "base_version": 1, "data": {"strokes": [stroke(1, [[40, 40]])]}}
    )
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert AnnotationRevision.objects.filter(annotation_id=created["id"]).count() == 2
    assert (mask_of(annotator, created["id"]) == 1).sum() == 0


def test_creating_a_layer_that_exists_conflicts(client_for, image):
    body = {"kind": "scribble", "base_version": 0, "data": {"strokes": [stroke(1, [[5, 5]])]}}
    assert save(client_for("annotator"), image, **body).status_code == 201
    assert save(client_for("owner"), image, **body).status_code == 409


def test_strokes_are_stored_as_deltas_and_rendered_in_order(client_for, image, nucleus):
    annotator = client_for("annotator")
    first = save(
        annotator,
        image,
        kind="scribble",
        base_version=0,
        data={"strokes": [stroke(nucleus.index, [[10, 10], [30, 10]], radius=3)]},
    ).json()
    save(
        annotator,
        image,
        kind="scribble",
        base_version=1,
        data={"strokes": [stroke(1, [[50, 50]], radius=4), stroke(0, [[20, 10]], radius=2)]},
    )
    revisions = AnnotationRevision.objects.filter(annotation_id=first["id"]).order_by("version")
    assert [bool(r.mask) for r in revisions] == [False, False]  # no full map written per stroke
    label_map = mask_of(annotator, first["id"])
    assert label_map.shape == (64, 64)
    assert label_map[10, 12] == nucleus.index and label_map[10, 28] == nucleus.index
    assert label_map[10, 20] == 0  # erased by the second save
    assert label_map[50, 50] == 1 and label_map[0, 0] == 0  # unpainted pixels stay unknown
    assert (mask_of(annotator, first["id"], version=1)[10, 20]) == nucleus.index


def test_a_dense_mask_upload_is_checked_and_kept(client_for, image, nucleus):
    dense = np.ones((64, 64), np.uint8)
    dense[20:30, 20:30] = nucleus.index
    response = client_for("annotator").post(
        f"/api/images/{image.pk}/annotations/",
        {"kind": "dense", "base_version": 0, "mask": io.BytesIO(png_bytes(dense))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert np.array_equal(mask_of(client_for("viewer"), response.json()["id"]), dense)


@pytest.mark.parametrize(
    ("mask", "words"),
    [
        (np.ones((32, 64), np.uint8), "but the image is 64x64"),
        (np.full((64, 64), 9, np.uint8), "class indices [9]"),
    ],
)
def test_a_bad_mask_is_refused_and_nothing_is_stored(client_for, image, mask, words):
    response = client_for("annotator").post(
        f"/api/images/{image.pk}/annotations/",
        {"kind": "dense", "base_version": 0, "mask": io.BytesIO(png_bytes(mask))},
        format="multipart",
    )
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert not image.annotations.exists()


@pytest.mark.parametrize("kind", ["mask", "instances"])
def test_a_map_declaring_a_huge_size_is_refused_from_its_header(client_for, image, kind):
    dense = io.BytesIO(png_bytes(np.ones((64, 64), np.uint8)))
    body = {"kind": "dense", "base_version": 0, "mask": dense, kind: io.BytesIO(png_declaring(12000, 12000))}
    response = client_for("annotator").post(f"/api/images/{image.pk}/annotations/", body, format="multipart")
    assert response.status_code == 400
    # Refused for its declared size, not after decoding 144 megapixels and finding the data short.
    assert "is 12000x12000 but the image is 64x64" in response.json()["detail"]
    assert not image.annotations.exists()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"strokes": [stroke(7, [[1, 1]])]}, "class index 7 does not exist"),
        ({"strokes": [stroke(1, [[500, 1]])]}, "outside"),
        ({"strokes": [{"class_index": 1, "points": [[1, 1]]}]}, "radius"),
        ({"strokes": "paint"}, "must be a list"),
        ({}, "Send strokes, a mask, or both"),
    ],
)
def test_bad_strokes_are_refused(client_for, image, data, words):
    response = save(client_for("annotator"), image, kind="scribble", base_version=0, data=data)
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert not image.annotations.exists()


@override_settings(STROKES_MAX_PAINT_PIXELS=20_000)
def test_a_save_whose_strokes_paint_too_much_in_total_is_refused(client_for, image):
    # Each stroke is valid alone (radius 30 <= 512); ten discs of 61x61 boxes clipped to the
    # 64x64 image are ~31000 pixels to visit, over the limit; one of them is not.
    annotator = client_for("annotator")
    many = [stroke(1, [[32, 32]], radius=30) for _ in range(10)]
    response = save(annotator, image, kind="scribble", base_version=0, data={"strokes": many})
    assert response.status_code == 400
    assert "STROKES_MAX_PAINT_PIXELS" in response.json()["detail"]
    assert not image.annotations.exists()
    assert (
        save(annotator, image, kind="scribble", base_version=0, data={"strokes": many[:1]}).status_code == 201
    )


@override_settings(STROKES_MAX_PER_SAVE=3)
def test_a_save_with_more_strokes_than_allowed_is_refused(client_for, image):
    strokes = [stroke(1, [[5, 5]]) for _ in range(4)]
    response = save(
        client_for("annotator"), image, kind="scribble", base_version=0, data={"strokes": strokes}
    )
    assert response.status_code == 400 and "STROKES_MAX_PER_SAVE" in response.json()["detail"]
    assert not image.annotations.exists()


@override_settings(STROKES_REPLAY_MAX_PIXELS=10_000)
def test_a_layer_is_snapshotted_once_its_strokes_cost_too_much_to_replay(users, image):
    annotation = None
    for version in range(4):  # each disc of radius 20 visits a 41x41 box: 1681 pixels
        annotation = services.annotation_save(
            image=image,
            author=users["annotator"],
            kind="scribble",
            base_version=version,
            data={"strokes": [stroke(1, [[32, 32], [32.5, 32]], radius=20)] * 2},
        )
    assert annotation is not None
    # 3 saves = 3 x 2 x 42 x 41 > 10000: the third writes a snapshot, long before SNAPSHOT_EVERY.
    assert [r.version for r in annotation.revisions.exclude(snapshot="")] == [3]
    assert label_map_at(annotation)[32, 32] == 1


def test_a_tag_of_an_unknown_class_is_refused(client_for, image):
    response = save(
        client_for("annotator"), image, kind="tag", label_class=999999, base_version=0, data={"present": True}
    )
    assert response.status_code == 400


def test_delete_keeps_history_and_restore_brings_it_back(client_for, image, nucleus):
    annotator = client_for("annotator")
    created = save(
        annotator,
        image,
        kind="scribble",
        base_version=0,
        data={"strokes": [stroke(nucleus.index, [[10, 10]], radius=3)]},
    ).json()
    save(
        annotator, image, kind="scribble", base_version=1, data={"strokes": [stroke(1, [[40, 40]], radius=3)]}
    )
    url = f"/api/annotations/{created['id']}/"
    assert annotator.delete(url + "?base_version=1").status_code == 409
    deleted = annotator.delete(url + "?base_version=2")
    assert deleted.status_code == 200 and deleted.json()["is_deleted"] is True
    assert mask_of(annotator, created["id"]).max() == 0

    restored = annotator.post(url + "restore/", {"version": 1, "base_version": 3}, format="json")
    assert restored.status_code == 200, restored.content
    assert restored.json()["version"] == 4 and not restored.json()["is_deleted"]
    label_map = mask_of(annotator, created["id"])
    assert label_map[10, 10] == nucleus.index and label_map[40, 40] == 0

    history = annotator.get(url + "revisions/").json()
    assert [(r["version"], r["author"], r["is_deleted"]) for r in history] == [
        (1, "annotator", False),
        (2, "annotator", False),
        (3, "annotator", True),
        (4, "annotator", False),
    ]
    assert history[3]["data"]["restored_from"] == 1
    newer = annotator.get(url + "revisions/?after=2").json()  # what a page at version 2 is missing
    assert [r["version"] for r in newer] == [3, 4]


def test_restoring_a_tag_brings_back_its_value(client_for, image, nucleus):
    annotator = client_for("annotator")
    created = save(
        annotator, image, kind="tag", label_class=nucleus.pk, base_version=0, data={"present": True}
    ).json()
    save(annotator, image, kind="tag", label_class=nucleus.pk, base_version=1, data={"present": False})
    restored = annotator.post(
        f"/api/annotations/{created['id']}/restore/", {"version": 1, "base_version": 2}, format="json"
    )
    assert restored.json()["data"] == {"present": True}


def test_long_histories_are_snapshotted_and_replay_the_same(users, image, nucleus):
    annotation = None
    rng = np.random.default_rng(1)
    for version in range(services.SNAPSHOT_EVERY + 3):
        x, y = (float(v) for v in rng.integers(2, 62, size=2))
        annotation = services.annotation_save(
            image=image,
            author=users["annotator"],
            kind="scribble",
            base_version=version,
            data={"strokes": [stroke(int(rng.integers(1, 3)), [[x, y]], radius=2)]},
        )
    assert annotation is not None
    snapshot = annotation.revisions.exclude(snapshot="").get()
    assert snapshot.version == services.SNAPSHOT_EVERY
    replayed = np.zeros((64, 64), np.uint16)
    from labeling.labelmaps import rasterize_strokes

    for revision in annotation.revisions.order_by("version"):
        rasterize_strokes(replayed, revision.data["strokes"])
    assert np.array_equal(label_map_at(annotation), replayed)


def test_derived_masks_need_provenance(client_for, image):
    response = save(
        client_for("annotator"),
        image,
        kind="derived",
        base_version=0,
        data={"strokes": [stroke(1, [[5, 5]])]},
    )
    assert response.status_code == 400 and "provenance" in response.json()["detail"]
    ok = save(
        client_for("annotator"),
        image,
        kind="derived",
        base_version=0,
        data={
            "strokes": [stroke(1, [[5, 5]])],
            "provenance": {"source": "fluorescence-teacher", "channel": "fluorescence"},
        },
    )
    assert ok.status_code == 201 and ok.json()["key"] == "fluorescence-teacher"
    assert ok.json()["data"]["provenance"]["channel"] == "fluorescence"


def test_points_are_saved_whole(client_for, image, nucleus):
    response = save(
        client_for("annotator"),
        image,
        kind="points",
        base_version=0,
        data={"points": [[3, 4, nucleus.index], [10.5, 20, 1]]},
    )
    assert response.status_code == 201
    assert response.json()["data"]["points"] == [[3.0, 4.0, nucleus.index], [10.5, 20.0, 1]]
    bad = save(client_for("annotator"), image, kind="points", base_version=1, data={"points": [[3, 4, 42]]})
    assert bad.status_code == 400


def test_the_image_list_shows_each_images_live_label_kinds(client_for, image, nucleus, project, users):
    (other,) = services.image_ingest(
        project=project, uploader=users["manager"], uploads=[services.Upload("g.png", field_png(size=64))]
    )
    annotator = client_for("annotator")
    save(annotator, image, kind="scribble", base_version=0, data={"strokes": [stroke(2, [[5, 5]])]})
    tag = save(annotator, image, kind="tag", label_class=nucleus.pk, base_version=0, data={"present": True})
    save(annotator, other, kind="tag", label_class=nucleus.pk, base_version=0, data={"present": False})
    assert annotator.delete(f"/api/annotations/{tag.json()['id']}/?base_version=1").status_code == 200

    listed = {
        row["name"]: row for row in annotator.get(f"/api/projects/{project.pk}/images/").json()["results"]
    }
    assert listed["f"]["label_kinds"] == ["scribble"]  # the deleted tag is not a live label
    assert listed["g"]["label_kinds"] == ["tag"]
    assert not listed["f"]["predicted"]
    assert annotator.get(f"/api/images/{other.pk}/").json()["label_kinds"] == ["tag"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "", None),
        ("get", "revisions/", None),
        ("get", "mask.png", None),
        ("delete", "?base_version=1", None),
        ("post", "restore/", {"version": 1, "base_version": 1}),
    ],
)
def test_the_labels_of_an_archived_image_are_gone_with_it(client_for, users, image, method, path, body):
    annotation = services.annotation_save(
        image=image,
        author=users["annotator"],
        kind="scribble",
        base_version=0,
        data={"strokes": [stroke(1, [[5, 5]])]},
    )
    services.image_archive(image=image)
    response = getattr(client_for("owner"), method)(
        f"/api/annotations/{annotation.pk}/{path}", body, format="json"
    )
    assert response.status_code == 404, response.content
    annotation.refresh_from_db()
    assert (annotation.version, annotation.is_deleted) == (1, False)
