"""Uploading images: formats and bit depths kept, channels paired, bad input refused whole."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile
from django.conf import settings
from django.test import override_settings
from django.utils.http import parse_header_parameters
from PIL import Image as PILImage

from labeling.models import Image, SourceFile
from labeling.selectors import channel_plane
from labeling.synthetic import synthetic_field
from tests.factories import field_png, jpeg_bytes, named, png_bytes, raw_multipart, tiff_bytes

pytestmark = pytest.mark.django_db


def upload(client, project, *files, **fields):
    return client.post(
        f"/api/projects/{project.pk}/images/", {"files": list(files), **fields}, format="multipart"
    )


def test_it_stores_an_8_bit_png_untouched_with_display_and_thumbnail(client_for, project):
    data = field_png(seed=3)
    response = upload(client_for("manager"), project, named(data, "field-3.png"))
    assert response.status_code == 201, response.content
    body = response.json()[0]
    assert (body["name"], body["width"], body["height"], body["dtype"]) == ("field-3", 64, 64, "uint8")
    assert [c["name"] for c in body["channels"]] == ["gray"]
    source = SourceFile.objects.get(image_id=body["id"])
    with source.file.open("rb") as handle:
        assert handle.read() == data
    viewer = client_for("viewer")
    display = viewer.get(body["channels"][0]["display_url"])
    thumbnail = viewer.get(body["thumbnail_url"])
    assert display.status_code == thumbnail.status_code == 200
    assert b"".join(display.streaming_content).startswith(b"\x89PNG")


def test_it_keeps_16_bit_tiff_values(client_for, project):
    field = synthetic_field(seed=4, height=48, width=40)
    response = upload(client_for("manager"), project, named(tiff_bytes(field.fluorescence), "f.tif"))
    assert response.status_code == 201, response.content
    image = Image.objects.get(pk=response.json()[0]["id"])
    assert image.dtype == "uint16" and (image.width, image.height) == (40, 48)
    channel = image.channels.get()
    assert np.array_equal(channel_plane(channel), field.fluorescence)
    assert channel.maximum == float(field.fluorescence.max())


def test_a_two_page_tiff_becomes_two_named_channels(client_for, project):
    field = synthetic_field(seed=5, height=32, width=32)
    bright16 = field.brightfield.astype(np.uint16) * 16
    data = tiff_bytes(bright16, field.fluorescence)
    response = upload(
        client_for("manager"),
        project,
        named(data, "pair.tif"),
        channels="brightfield,fluorescence",
        pages="channels",
    )
    assert response.status_code == 201, response.content
    image = Image.objects.get(pk=response.json()[0]["id"])
    brightfield, fluorescence = image.channels.order_by("index")
    assert (brightfield.name, fluorescence.name) == ("brightfield", "fluorescence")
    assert np.array_equal(channel_plane(brightfield), bright16)
    assert np.array_equal(channel_plane(fluorescence), field.fluorescence)


def test_separate_files_pair_as_channels_of_one_image(client_for, project):
    field = synthetic_field(seed=6, height=32, width=32)
    response = upload(
        client_for("manager"),
        project,
        named(png_bytes(field.brightfield), "a_bf.png"),
        named(png_bytes(field.fluorescence), "a_fl.png"),
        channels="brightfield,fluorescence",
        name="field-a",
    )
    assert response.status_code == 201, response.content
    (body,) = response.json()
    assert body["name"] == "field-a"
    assert [c["name"] for c in body["channels"]] == ["brightfield", "fluorescence"]
    image = Image.objects.get(pk=body["id"])
    assert np.array_equal(channel_plane(image.channels.get(name="fluorescence")), field.fluorescence)


def test_several_files_make_several_images(client_for, project):
    response = upload(
        client_for("manager"), project, named(field_png(1), "one.png"), named(field_png(2), "two.png")
    )
    assert response.status_code == 201
    assert sorted(i.name for i in Image.objects.filter(project=project)) == ["one", "two"]


def test_an_rgb_jpeg_becomes_three_channels(client_for, project):
    rgb = np.random.default_rng(0).integers(0, 255, size=(24, 24, 3), dtype=np.uint8)
    response = upload(client_for("manager"), project, named(jpeg_bytes(rgb), "colour.jpg"))
    assert response.status_code == 201, response.content
    assert [c["name"] for c in response.json()[0]["channels"]] == ["red", "green", "blue"]


def test_a_grey_and_alpha_tiff_is_one_image_with_its_channels_last(client_for, project):
    # tifffile stores an (H, W, 2) array as H pages of W x 2 pixels; the image is 64x64, not 2x64.
    grey_alpha = np.stack([np.arange(64 * 64).reshape(64, 64) % 251, np.full((64, 64), 255)], axis=-1)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, grey_alpha.astype(np.uint8))
    response = upload(client_for("manager"), project, named(buffer.getvalue(), "grey-alpha.tif"))
    assert response.status_code == 201, response.content
    image = Image.objects.get(pk=response.json()[0]["id"])
    assert (image.width, image.height, image.channels.count()) == (64, 64, 2)
    grey, alpha = image.channels.order_by("index")
    assert np.array_equal(channel_plane(grey), grey_alpha[..., 0])
    assert np.array_equal(channel_plane(alpha), grey_alpha[..., 1])


@override_settings(MAX_IMAGE_CHANNELS=8)
def test_a_tiff_with_more_pages_than_channels_allowed_is_refused_before_decoding(client_for, project):
    data = tiff_bytes(*[np.full((16, 16), n, np.uint8) for n in range(9)])
    response = upload(client_for("manager"), project, named(data, "stack.tif"), pages="channels")
    refused(response, 400, "9 channels is more than this server accepts (8)")
    assert not Image.objects.exists()


def refused(response, status: int, words: str) -> None:
    assert response.status_code == status, response.content
    assert words in response.json()["detail"].lower(), response.json()


def test_it_refuses_a_file_that_is_not_an_image(client_for, project):
    response = upload(client_for("manager"), project, named(b"hello, not pixels", "notes.png"))
    refused(response, 400, "not an image")


@pytest.mark.parametrize("maker", [field_png, lambda: tiff_bytes(np.ones((64, 64), np.uint16))])
def test_it_refuses_a_truncated_file(client_for, project, maker):
    data = maker() if callable(maker) else maker
    response = upload(client_for("manager"), project, named(data[: len(data) // 2], "cut.png"))
    refused(response, 400, "damaged or truncated")


@override_settings(MAX_IMAGE_PIXELS=1000)
def test_it_refuses_an_image_over_the_pixel_limit(client_for, project):
    response = upload(client_for("manager"), project, named(field_png(), "big.png"))
    refused(response, 400, "more than this server accepts")


def test_it_refuses_an_unsupported_pixel_type(client_for, project):
    data = tiff_bytes(np.ones((16, 16), dtype=np.float64))
    refused(upload(client_for("manager"), project, named(data, "float.tif")), 400, "float64")


@pytest.mark.parametrize("bad_name", ["../evil.png", "dir/evil.png", "dir\\\\evil.png"])
def test_it_refuses_a_file_name_with_path_separators(client_for, project, bad_name):
    body, content_type = raw_multipart([(bad_name, field_png())])
    response = client_for("manager").generic(
        "POST", f"/api/projects/{project.pk}/images/", body, content_type=content_type
    )
    refused(response, 400, "path separators")
    assert not Image.objects.exists()


def test_one_bad_file_stores_nothing_of_the_batch(client_for, project, settings):
    response = upload(
        client_for("manager"), project, named(field_png(), "good.png"), named(b"garbage", "bad.png")
    )
    assert response.status_code == 400
    assert not Image.objects.filter(project=project).exists()
    assert not SourceFile.objects.exists()


def test_a_name_already_in_the_project_conflicts(client_for, project):
    manager = client_for("manager")
    assert upload(manager, project, named(field_png(1), "same.png")).status_code == 201
    refused(upload(manager, project, named(field_png(2), "same.png")), 409, "already has images")
    assert Image.objects.filter(project=project).count() == 1


def test_paired_channels_of_different_sizes_are_refused(client_for, project):
    response = upload(
        client_for("manager"),
        project,
        named(png_bytes(np.zeros((10, 10), np.uint8)), "a.png"),
        named(png_bytes(np.zeros((12, 10), np.uint8)), "b.png"),
        channels="brightfield,fluorescence",
    )
    refused(response, 400, "same width and height")


def test_an_image_name_with_a_path_is_refused(client_for, project):
    response = upload(client_for("manager"), project, named(field_png(), "ok.png"), name="../sneaky")
    refused(response, 400, "path separators")


def test_pillow_guards_every_decode_in_the_process_with_our_pixel_limit():
    # Not switched off for the whole process: label images, display renditions and any other
    # Pillow read refuse a decompression bomb by MAX_IMAGE_PIXELS too.
    assert PILImage.MAX_IMAGE_PIXELS == settings.MAX_IMAGE_PIXELS


def test_the_original_files_name_cannot_add_parameters_to_the_download(client_for, project):
    response = upload(client_for("manager"), project, named(field_png(), "f.png"))
    image = Image.objects.get(pk=response.json()[0]["id"])
    evil = "x\"; filename*=UTF-8''evil.html; y=\".png"
    SourceFile.objects.filter(image=image).update(original_name=evil)
    download = client_for("viewer").get(f"/api/images/{image.pk}/channels/gray/original")
    assert download.status_code == 200
    kind, params = parse_header_parameters(download["Content-Disposition"])
    assert kind == "attachment" and params == {"filename": evil}
