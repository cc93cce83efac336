"""Display tiles: a channel's display rendition as a pyramid of 512-pixel PNG tiles, each level
half the size of the one before, for the annotator to draw large images piecewise."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient

from labeling import imageio, services
from labeling.models import Image
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db

WIDTH, HEIGHT = 1100, 700  # three levels: 1100x700, 550x350, 275x175


def tile_url(image: Image, level: int, col: int, row: int, channel: str = "gray") -> str:
    return f"/api/images/{image.pk}/channels/{channel}/tiles/{level}/{col}/{row}.png"


def decoded(response: Any) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(response.content)))


@pytest.fixture
def field() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, size=(HEIGHT, WIDTH), dtype=np.uint8)


@pytest.fixture
def image(project, users, field) -> Image:
    (image,) = services.image_ingest(
        project=project, uploader=users["manager"], uploads=[services.Upload("wide.png", png_bytes(field))]
    )
    return image


def display_of(image: Image) -> np.ndarray:
    with image.channels.get().display.open("rb") as handle:
        return np.asarray(PILImage.open(handle))


def test_levels_halve_until_the_image_fits_in_one_tile():
    assert imageio.pyramid_levels(512, 512) == 1
    assert imageio.pyramid_levels(513, 40) == 2
    assert imageio.pyramid_levels(WIDTH, HEIGHT) == 3
    assert imageio.pyramid_levels(8192, 8192) == 5


def test_halving_takes_the_rounded_mean_of_each_block_and_repeats_an_odd_edge():
    plane = np.array([[0, 4, 9], [8, 13, 200]], dtype=np.uint8)
    assert imageio.halve(plane).tolist() == [[(0 + 4 + 8 + 13 + 2) // 4, (9 + 9 + 200 + 200 + 2) // 4]]
    assert imageio.halve(np.full((3, 3), 255, np.uint8)).tolist() == [[255, 255], [255, 255]]


def test_level_zero_tiles_are_the_display_rendition_cut_in_512_squares(client_for, image):
    display = display_of(image)
    client = client_for("viewer")
    first = client.get(tile_url(image, 0, 0, 0))
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    assert np.array_equal(decoded(first), display[:512, :512])
    corner = decoded(client.get(tile_url(image, 0, 2, 1)))
    assert corner.shape == (HEIGHT - 512, WIDTH - 1024), "edge tiles are cut at the image's edge"
    assert np.array_equal(corner, display[512:, 1024:])


def test_each_level_halves_the_one_before(client_for, image):
    display = display_of(image)
    client = client_for("annotator")
    level1 = np.concatenate([decoded(client.get(tile_url(image, 1, col, 0))) for col in (0, 1)], axis=1)
    assert level1.shape == (350, 550)
    assert np.array_equal(level1, imageio.halve(display))
    top = decoded(client.get(tile_url(image, 2, 0, 0)))
    assert top.shape == (175, 275), "the last level is the whole image in one tile"
    assert abs(float(top.mean()) - float(display.mean())) < 1.0


@pytest.mark.parametrize(
    ("level", "col", "row"),
    [(3, 0, 0), (0, 3, 0), (0, 0, 2), (1, 2, 0), (2, 1, 0)],
)
def test_a_level_or_tile_outside_the_pyramid_is_404_with_a_message(client_for, image, level, col, row):
    response = client_for("viewer").get(tile_url(image, level, col, row))
    assert response.status_code == 404
    assert "level" in response.json()["detail"] or "tile" in response.json()["detail"]


def test_unknown_channels_and_malformed_paths_are_404(client_for, image):
    client = client_for("viewer")
    assert client.get(tile_url(image, 0, 0, 0, channel="dapi")).status_code == 404
    assert client.get(f"/api/images/{image.pk}/channels/gray/tiles/-1/0/0.png").status_code == 404
    assert client.get(f"/api/images/{image.pk}/channels/gray/tiles/a/0/0.png").status_code == 404


def test_a_tile_is_revalidated_by_its_etag(client_for, image):
    client = client_for("viewer")
    first = client.get(tile_url(image, 1, 1, 0))
    assert first["ETag"] and "max-age" in first["Cache-Control"]
    again = client.get(tile_url(image, 1, 1, 0), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    other = client.get(tile_url(image, 1, 0, 0))
    assert other["ETag"] != first["ETag"], "each tile has its own tag"


def test_members_read_tiles_and_strangers_and_anonymous_callers_do_not(client_for, image):
    for member in ("owner", "manager", "annotator", "viewer"):
        assert client_for(member).get(tile_url(image, 2, 0, 0)).status_code == 200
    assert client_for("stranger").get(tile_url(image, 2, 0, 0)).status_code == 404
    assert APIClient().get(tile_url(image, 2, 0, 0)).status_code in (401, 403)


def test_tiles_of_an_image_whose_rendition_a_worker_has_not_made_yet_are_404(
    client_for, project, users, field, settings
):
    settings.DISPLAY_SYNC_MAX_PIXELS = 1000  # the rendition is left to a worker, which is not running
    (image,) = services.image_ingest(
        project=project, uploader=users["manager"], uploads=[services.Upload("late.png", png_bytes(field))]
    )
    response = client_for("viewer").get(tile_url(image, 0, 0, 0))
    assert response.status_code == 404 and "worker" in response.json()["detail"]
