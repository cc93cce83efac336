"""Instant previews in the app, without a worker: the actor's function called here, on the real
database, Redis and storage. What a real worker and socket add is in tests/live/test_instant_preview.py."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from labeling import services
from labeling.labelmaps import decode_png_map
from labeling.models import Image
from tests.factories import png_bytes
from training.features import instant
from webapp import jobs

pytestmark = pytest.mark.django_db

SIZE = 96
BACKGROUND = 1


def blob_image(project, uploader, name: str = "blobs", seed: int = 0) -> tuple[Image, np.ndarray]:
    """A generated 8-bit field: bright discs on a dark noisy background; and where the discs are."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = np.zeros((SIZE, SIZE), dtype=bool)
    for cy, cx in ((25, 25), (25, 70), (70, 45)):
        blob |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 12**2
    pixels = np.clip(50 + 150 * blob + rng.normal(0, 10, blob.shape), 0, 255).astype(np.uint8)
    (image,) = services.image_ingest(
        project=project, uploader=uploader, uploads=[services.Upload(f"{name}.png", png_bytes(pixels))]
    )
    jobs.redis_client().delete(instant.preview_key(image.pk))  # ids repeat across test databases
    return image, blob


def scribble(image, author, strokes, base_version=0):
    return services.annotation_save(
        image=image, author=author, kind="scribble", base_version=base_version, data={"strokes": strokes}
    )


def two_classes(nucleus: int) -> list[dict]:
    """A background stroke between the discs and a stroke through the middle of each disc."""
    return [
        {"class_index": BACKGROUND, "radius": 2, "points": [[5, 50], [90, 50]]},
        {"class_index": nucleus, "radius": 2, "points": [[20, 25], [30, 25]]},
        {"class_index": nucleus, "radius": 2, "points": [[65, 25], [75, 25]]},
    ]


def stored_classes(image) -> np.ndarray:
    stored = instant.latest_preview(image.pk)
    assert stored is not None
    return decode_png_map(default_storage.open(stored.file).read(), what="preview")


def test_a_preview_labels_the_blobs_from_scribbles_and_is_served_to_members_only(
    project, users, nucleus, client_for
):
    image, blob = blob_image(project, users["owner"])
    url = f"/api/images/{image.pk}/instant-preview.png"
    assert client_for("viewer").get(url).status_code == 204  # none yet
    assert client_for("viewer").head(url).status_code == 204
    assert client_for("stranger").get(url).status_code == 404
    layer = scribble(image, users["annotator"], two_classes(nucleus.index))
    seq = int(jobs.redis_client().hincrby(instant.preview_key(image.pk), "wanted", 1))
    instant.preview_job(image.pk, seq)

    classes = stored_classes(image)
    assert classes.shape == (SIZE, SIZE)  # small images are previewed at full size
    assert np.mean(classes[blob] == nucleus.index) > 0.95  # the third disc was never painted
    assert np.mean(classes[~blob] == BACKGROUND) > 0.95
    stored = instant.latest_preview(image.pk)
    assert stored.seq == seq and stored.meta["labels"] == [[layer.pk, 1]] and stored.meta["images"] == 1
    response = client_for("viewer").get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Preview-Seq"] == str(seq)
    assert np.array_equal(decode_png_map(b"".join(response.streaming_content), what="preview"), classes)
    head = client_for("viewer").head(url)  # what the annotator asks when it opens the image
    assert head.status_code == 200 and head["X-Preview-Images"] == "1"
    assert float(head["X-Preview-Made-At"]) == stored.meta["made_at"]
    assert client_for("stranger").get(url).status_code == 404


def test_a_stale_request_does_nothing_and_an_older_preview_never_replaces_a_newer_one(
    project, users, nucleus
):
    image, _ = blob_image(project, users["owner"])
    scribble(image, users["annotator"], two_classes(nucleus.index))
    key = instant.preview_key(image.pk)
    jobs.redis_client().hset(key, "wanted", 3)
    instant.preview_job(image.pk, 2)  # a later stroke asked again: this one is stale
    assert instant.latest_preview(image.pk) is None

    instant.preview_job(image.pk, 3)
    first = instant.latest_preview(image.pk)
    assert first is not None and first.seq == 3
    preview = instant.preview_make(image)
    assert instant.preview_store(image, 2, preview) is False  # a slower worker's older request
    assert instant.latest_preview(image.pk).file == first.file
    assert default_storage.exists(first.file)


def test_only_the_latest_preview_file_is_kept(project, users, nucleus):
    image, _ = blob_image(project, users["owner"])
    layer = scribble(image, users["annotator"], two_classes(nucleus.index))
    instant.preview_job(image.pk, 1)
    first = instant.latest_preview(image.pk)
    scribble(
        image,
        users["annotator"],
        [{"class_index": BACKGROUND, "radius": 2, "points": [[5, 90]]}],
        base_version=1,
    )
    instant.preview_job(image.pk, 2)
    second = instant.latest_preview(image.pk)
    assert second.seq == 2 and second.meta["labels"] == [[layer.pk, 2]]
    assert not default_storage.exists(first.file) and default_storage.exists(second.file)
    _, files = default_storage.listdir("instant")
    assert files == [second.file.split("/")[-1]]


def test_labels_of_other_images_count_and_one_class_gets_a_message_instead(project, users, nucleus):
    painted, _ = blob_image(project, users["owner"], name="painted")
    other, other_blob = blob_image(project, users["owner"], name="other", seed=1)
    only_blobs = [{"class_index": nucleus.index, "radius": 2, "points": [[20, 25], [30, 25]]}]
    scribble(painted, users["annotator"], only_blobs)
    with pytest.raises(instant.NotEnoughLabels, match="two classes; so far: nucleus"):
        instant.preview_make(other)
    instant.preview_job(painted.pk, 1)  # publishes preview.skipped, records nothing
    assert instant.latest_preview(painted.pk) is None

    background = [{"class_index": BACKGROUND, "radius": 2, "points": [[5, 50], [90, 50]]}]
    scribble(painted, users["annotator"], background, base_version=1)
    preview = instant.preview_make(other)  # nothing painted on it: it learns from the other image
    assert preview.images == 1 and preview.learnt == [BACKGROUND, nucleus.index]
    assert np.mean((preview.classes == nucleus.index) == other_blob) > 0.95
