"""Microscopy formats in: OME-TIFF, ImageJ and plain multi-page TIFF, CZI, ND2; z/t stacks as one
image per plane; float32 kept; everything we do not keep refused before anything is stored."""

from __future__ import annotations

import io
from pathlib import Path

import nd2
import numpy as np
import pytest
import tifffile
from django.conf import settings
from django.test import override_settings
from nd2.structures import Channel as Nd2Channel
from nd2.structures import Metadata as Nd2Metadata
from PIL import Image as PILImage

from labeling import imageio
from labeling.models import Channel, Image, SourceFile, Stack
from labeling.readers.nd2file import Nd2Reader
from labeling.selectors import channel_plane, image_planes
from tests.factories import czi_bytes, named, ome_tiff_bytes, tiff_bytes

pytestmark = pytest.mark.django_db


def upload(client, project, *files, **fields):
    return client.post(
        f"/api/projects/{project.pk}/images/", {"files": list(files), **fields}, format="multipart"
    )


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def assert_nothing_stored() -> None:
    assert not Image.objects.exists()
    assert not SourceFile.objects.exists()
    assert not Stack.objects.exists()
    assert stored_files() == []


def pixels(shape: tuple[int, ...], dtype: type = np.uint16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4000, size=shape).astype(dtype)


# OME-TIFF ----------------------------------------------------------------------------------


def test_an_ome_tiff_keeps_its_channel_names_and_pixel_size(client_for, project):
    field = pixels((2, 24, 32))
    data = ome_tiff_bytes(field, axes="CYX", channels=["DAPI", "Alexa Fluor 488"], pixel_size=0.325)
    response = upload(client_for("manager"), project, named(data, "well-a1.ome.tif"))
    assert response.status_code == 201, response.content
    (body,) = response.json()
    assert body["name"] == "well-a1"
    assert [c["name"] for c in body["channels"]] == ["DAPI", "Alexa_Fluor_488"]
    assert body["pixel_size_x"] == body["pixel_size_y"] == pytest.approx(0.325)
    assert (body["stack"], body["z"], body["t"], body["size_z"], body["size_t"]) == (None, 0, 0, 1, 1)
    image = Image.objects.get(pk=body["id"])
    assert np.array_equal(image_planes(image, ["DAPI", "Alexa_Fluor_488"]), field)


def test_an_ome_tiff_z_stack_becomes_one_image_per_plane_that_knows_its_siblings(client_for, project):
    stack = pixels((2, 3, 2, 16, 20))  # t, z, c, y, x
    data = ome_tiff_bytes(stack, axes="TZCYX", channels=["bf", "nuclei"], pixel_size=0.5)
    response = upload(client_for("manager"), project, named(data, "embryo.ome.tif"))
    assert response.status_code == 201, response.content
    names = [body["name"] for body in response.json()]
    assert names == [f"embryo z0{z} t0{t}" for t in range(2) for z in range(3)]
    row = Stack.objects.get()
    assert (row.name, row.size_z, row.size_t, row.pixel_size_z) == ("embryo", 3, 2, 2.0)
    for image in Image.objects.filter(stack=row):
        assert np.array_equal(image_planes(image, ["bf", "nuclei"]), stack[image.t, image.z])
        assert image.pixel_size_x == pytest.approx(0.5)
    plane = Image.objects.get(name="embryo z01 t01")
    detail = client_for("viewer").get(f"/api/images/{plane.pk}/").json()
    assert (detail["stack"], detail["z"], detail["t"], detail["size_z"], detail["size_t"]) == (
        row.pk,
        1,
        1,
        3,
        2,
    )
    by_place = {(p["z"], p["t"]): p["id"] for p in detail["planes"]}
    assert len(by_place) == 6 and by_place[(1, 1)] == plane.pk
    assert by_place[(2, 0)] == Image.objects.get(name="embryo z02 t00").pk
    listed = client_for("viewer").get(f"/api/projects/{project.pk}/images/?stack={row.pk}").json()
    assert listed["count"] == 6


def test_the_planes_of_a_stack_share_one_stored_file(client_for, project):
    data = ome_tiff_bytes(pixels((4, 16, 16)), axes="ZYX")
    assert upload(client_for("manager"), project, named(data, "z.ome.tif")).status_code == 201
    assert SourceFile.objects.count() == 4
    assert len({source.file.name for source in SourceFile.objects.all()}) == 1
    assert len(stored_files()) == 1 + 4 * 2  # the original, then each plane's display and thumbnail


def test_reading_one_plane_of_a_stack_decodes_one_page(client_for, project, monkeypatch):
    stack = pixels((6, 2, 16, 16))
    data = ome_tiff_bytes(stack, axes="ZCYX", channels=["a", "b"])
    assert upload(client_for("manager"), project, named(data, "deep.ome.tif")).status_code == 201
    decoded = []
    original = tifffile.TiffPage.asarray

    def counting(page, *args, **kwargs):
        decoded.append(page.index)
        return original(page, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffPage, "asarray", counting)
    channel = Channel.objects.get(image__name="deep z04 t00", name="b")
    assert np.array_equal(channel_plane(channel), stack[4, 1])
    assert len(decoded) == 1


def test_an_ome_tiff_in_another_dimension_order_reads_the_right_planes(client_for, project):
    stack = pixels((2, 3, 16, 16))  # c outermost: XYZCT
    data = ome_tiff_bytes(stack, axes="CZYX", channels=["a", "b"])
    assert upload(client_for("manager"), project, named(data, "czyx.ome.tif")).status_code == 201
    for z in range(3):
        image = Image.objects.get(name=f"czyx z0{z} t00")
        assert np.array_equal(image_planes(image, ["a", "b"]), stack[:, z])


@pytest.mark.parametrize("compression", ["lzw", "zstd", "zlib"])
def test_a_compressed_ome_tiff_is_read_with_its_codec(client_for, project, compression):
    stack = pixels((2, 16, 16))
    data = ome_tiff_bytes(stack, axes="ZYX", compression=compression)
    response = upload(client_for("manager"), project, named(data, "packed.ome.tif"))
    assert response.status_code == 201, response.content
    assert np.array_equal(channel_plane(Channel.objects.get(image__name="packed z01 t00")), stack[1])


# Plain and ImageJ TIFF ---------------------------------------------------------------------


def test_a_multi_page_tiff_without_metadata_asks_what_its_pages_are(client_for, project):
    data = tiff_bytes(pixels((16, 16)), pixels((16, 16), seed=1))
    response = upload(client_for("manager"), project, named(data, "pages.tif"))
    assert response.status_code == 400
    assert "pages=channels, pages=z or pages=t" in response.json()["detail"]
    assert response.json()["code"] == "pages_needed"  # the upload dialog asks on this
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("pages", "names"),
    [
        ("z", ["pages z00 t00", "pages z01 t00", "pages z02 t00"]),
        ("t", ["pages z00 t00", "pages z00 t01", "pages z00 t02"]),
    ],
)
def test_the_uploader_says_a_plain_tiffs_pages_are_z_planes_or_time_points(client_for, project, pages, names):
    planes = [pixels((16, 16), seed=seed) for seed in range(3)]
    response = upload(client_for("manager"), project, named(tiff_bytes(*planes), "pages.tif"), pages=pages)
    assert response.status_code == 201, response.content
    assert [body["name"] for body in response.json()] == names
    for name, plane in zip(names, planes, strict=True):
        image = Image.objects.get(name=name)
        assert [c.name for c in image.channels.all()] == ["gray"]
        assert np.array_equal(channel_plane(image.channels.get()), plane)
        assert image.sources.get().pages == pages


def test_an_rgb_tiff_stays_three_colour_channels_without_the_pages_option(client_for, project):
    rgb = pixels((16, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, rgb, photometric="rgb")
    response = upload(client_for("manager"), project, named(buffer.getvalue(), "colour.tif"))
    assert response.status_code == 201, response.content
    assert [c["name"] for c in response.json()[0]["channels"]] == ["red", "green", "blue"]


def test_an_imagej_hyperstack_says_its_axes_and_calibration(client_for, project):
    stack = pixels((3, 2, 16, 16))  # z, c
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        stack,
        imagej=True,
        resolution=(1 / 0.2, 1 / 0.2),
        metadata={"axes": "ZCYX", "spacing": 1.5, "unit": "um"},
    )
    response = upload(client_for("manager"), project, named(buffer.getvalue(), "fiji.tif"))
    assert response.status_code == 201, response.content
    assert len(response.json()) == 3
    image = Image.objects.get(name="fiji z02 t00")
    assert image.pixel_size_x == pytest.approx(0.2) and image.stack.pixel_size_z == pytest.approx(1.5)
    assert np.array_equal(image_planes(image, ["ch0", "ch1"]), stack[2])


def test_files_stored_before_the_pages_option_are_read_as_before(client_for, project):
    """The migration marks older files pages="channels": every page a channel, metadata or not."""
    stack = pixels((3, 16, 16))
    data = ome_tiff_bytes(stack, axes="ZYX")
    assert upload(client_for("manager"), project, named(data, "old.ome.tif")).status_code == 201
    source = SourceFile.objects.get(image__name="old z00 t00")
    source.pages = "channels"
    source.save()
    legacy = Channel.objects.get(image__name="old z00 t00")
    legacy.page = 2  # the old reader's third channel was the third page
    assert np.array_equal(channel_plane(legacy), stack[2])


# CZI and ND2 -------------------------------------------------------------------------------


def test_a_czi_keeps_channel_names_pixel_size_and_its_planes(client_for, project, tmp_path):
    stack = pixels((2, 2, 2, 24, 30))  # t, z, c
    data = czi_bytes(stack, channels=["DAPI", "GFP"], pixel_size=0.65, tmp_path=tmp_path)
    response = upload(client_for("manager"), project, named(data, "slide.czi"))
    assert response.status_code == 201, response.content
    assert len(response.json()) == 4
    assert [c["name"] for c in response.json()[0]["channels"]] == ["DAPI", "GFP"]
    for image in Image.objects.filter(stack__name="slide"):
        assert np.array_equal(image_planes(image, ["DAPI", "GFP"]), stack[image.t, image.z])
        assert image.pixel_size_x == pytest.approx(0.65)
    assert Stack.objects.get().pixel_size_z == pytest.approx(2.0)


def test_a_2d_czi_is_one_image(client_for, project, tmp_path):
    field = pixels((1, 1, 1, 20, 20), dtype=np.uint8)
    data = czi_bytes(field, channels=["brightfield"], pixel_size=1.0, tmp_path=tmp_path)
    response = upload(client_for("manager"), project, named(data, "one.czi"))
    assert response.status_code == 201, response.content
    (body,) = response.json()
    assert (body["name"], body["stack"], body["dtype"]) == ("one", None, "uint8")
    assert [c["name"] for c in body["channels"]] == ["brightfield"]


class FakeNd2:
    """What Nd2Reader reads of an nd2.ND2File, with nd2's own metadata structures. No ND2 file can
    be written (nd2 only reads) and neither the package nor its sdist ships one."""

    def __init__(self, frames: np.ndarray, names: list[str], calibration: tuple[float, float, float]) -> None:
        self.frames = frames  # (T, Z, C, Y, X)
        size_t, size_z, size_c, height, width = frames.shape
        self.sizes = {
            k: v
            for k, v in {"T": size_t, "Z": size_z, "C": size_c, "Y": height, "X": width}.items()
            if v > 1 or k in "YX"
        }
        self.dtype = frames.dtype
        self.loop_indices = tuple({"T": t, "Z": z} for t in range(size_t) for z in range(size_z))
        volume = {
            "axesCalibrated": (True, True, True),
            "axesCalibration": calibration,
            "axesInterpretation": ("distance",) * 3,
            "bitsPerComponentInMemory": 16,
            "bitsPerComponentSignificant": 16,
            "cameraTransformationMatrix": (1.0, 0.0, 0.0, 1.0),
            "componentCount": 1,
            "componentDataType": "unsigned",
            "voxelCount": (width, height, size_z),
        }
        self.metadata = Nd2Metadata(
            channels=[
                Nd2Channel(
                    channel={"name": name, "index": i, "color": (255, 255, 255)},
                    loops=None,
                    microscope={},
                    volume=volume,
                )
                for i, name in enumerate(names)
            ]
        )
        self.closed = False

    def voxel_size(self) -> nd2._util.VoxelSize:
        return nd2._util.VoxelSize(*self.metadata.channels[0].volume.axesCalibration)

    def read_frame(self, number: int) -> np.ndarray:
        loop = self.loop_indices[number]
        return self.frames[loop["T"], loop["Z"]].squeeze()

    def close(self) -> None:
        self.closed = True


def test_an_nd2_files_channels_calibration_and_frames_make_the_layout_and_planes():
    frames = pixels((2, 3, 2, 12, 14))
    handle = FakeNd2(frames, ["DAPI", "mCherry"], (0.11, 0.11, 0.5))
    reader = Nd2Reader.from_handle(handle, filename="cells.nd2")
    layout = reader.layout
    assert (layout.format, layout.channel_names, layout.size_z, layout.size_t) == (
        "nd2",
        ("DAPI", "mCherry"),
        3,
        2,
    )
    assert (layout.pixel_size_x, layout.pixel_size_z) == (pytest.approx(0.11), pytest.approx(0.5))
    for t, z, c in np.ndindex(2, 3, 2):
        assert np.array_equal(reader.read(layout.plane_index(c=c, z=z, t=t)), frames[t, z, c])
    reader.close()
    assert handle.closed


def test_an_nd2_with_stage_positions_is_refused():
    handle = FakeNd2(pixels((1, 1, 1, 8, 8)), ["a"], (1.0, 1.0, 1.0))
    handle.loop_indices = ({"P": 0}, {"P": 1})
    with pytest.raises(imageio.ImageReadError, match="P loops"):
        Nd2Reader.from_handle(handle, filename="multi.nd2")


def test_a_damaged_nd2_file_is_refused_by_the_real_reader(client_for, project):
    data = b"\xda\xce\xbe\n" + bytes(200)
    response = upload(client_for("manager"), project, named(data, "broken.nd2"))
    assert response.status_code == 400
    assert "nd2 file is damaged" in response.json()["detail"].lower()
    assert_nothing_stored()
    assert nd2.is_supported_file(io.BytesIO(data))  # the real reader recognised it as ND2


# Bit depths, and refusals ------------------------------------------------------------------


def test_a_float32_image_is_kept_at_full_precision_and_shown_from_its_display_range(client_for, project):
    plane = np.random.default_rng(1).normal(0.0, 1e-3, size=(24, 24)).astype(np.float32)
    response = upload(client_for("manager"), project, named(tiff_bytes(plane), "phase.tif"))
    assert response.status_code == 201, response.content
    (body,) = response.json()
    assert body["dtype"] == "float32"
    channel = Channel.objects.get(image_id=body["id"])
    assert channel_plane(channel).dtype == np.float32
    assert np.array_equal(channel_plane(channel), plane)
    assert channel.display_low == pytest.approx(float(np.percentile(plane, 0.5)), rel=1e-4)
    display = client_for("viewer").get(body["channels"][0]["display_url"])
    shown = np.asarray(PILImage.open(io.BytesIO(b"".join(display.streaming_content))))
    assert shown.dtype == np.uint8 and shown.min() == 0 and shown.max() == 255


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (gif_bytes(), "gif image"),
        (tiff_bytes(np.ones((8, 8), np.int16)), "int16"),
        (tiff_bytes(np.ones((8, 8), np.float64)), "float64"),
        (tiff_bytes(np.full((8, 8), np.nan, np.float32)), "nan"),
        (b"PK\x03\x04" + bytes(40), "zip archive"),
    ],
    ids=["gif", "int16", "float64", "nan", "zip"],
)
def test_an_unsupported_file_is_refused_naming_what_it_is_and_nothing_is_stored(
    client_for, project, data, words
):
    response = upload(client_for("manager"), project, named(data, "bad.tif"))
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"].lower()
    assert_nothing_stored()


def test_a_bad_plane_late_in_a_batch_leaves_no_file_or_row(client_for, project, monkeypatch):
    good = ome_tiff_bytes(pixels((3, 16, 16)), axes="ZYX")
    original = imageio.ImageReader.read
    calls = []

    def failing(reader, index):
        calls.append(index)
        if len(calls) == 3:
            raise imageio.ImageReadError("bad.tif: the file is damaged or truncated (test)")
        return original(reader, index)

    monkeypatch.setattr(imageio.ImageReader, "read", failing)
    response = upload(client_for("manager"), project, named(good, "stack.ome.tif"))
    assert response.status_code == 400
    assert_nothing_stored()


@override_settings(MAX_STACK_PLANES=2)
def test_a_stack_over_the_plane_limit_is_refused_before_decoding(client_for, project, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("a page was decoded")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", never)
    data = ome_tiff_bytes(pixels((3, 16, 16)), axes="ZYX")
    response = upload(client_for("manager"), project, named(data, "tall.ome.tif"))
    assert response.status_code == 400
    assert "MAX_STACK_PLANES" in response.json()["detail"]
    assert_nothing_stored()


@override_settings(MAX_IMAGE_PIXELS=500)
def test_each_plane_is_held_to_the_pixel_budget_before_decoding(client_for, project, monkeypatch):
    monkeypatch.setattr(tifffile.TiffPage, "asarray", lambda *a, **k: pytest.fail("a page was decoded"))
    data = ome_tiff_bytes(pixels((2, 2, 16, 16)), axes="ZCYX")  # 512 pixels x channels per plane
    response = upload(client_for("manager"), project, named(data, "wide.ome.tif"))
    assert response.status_code == 400
    assert "more than this server accepts" in response.json()["detail"]
    assert_nothing_stored()
