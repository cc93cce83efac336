"""The import_dataset command: both folder layouts, ground truth as dense masks, re-runs, limits."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image as PILImage
from pycocotools import mask as mask_utils
from scipy import ndimage

from labeling import services
from labeling.models import Annotation, AnnotationRevision, Image, Project, Role
from labeling.selectors import channel_plane, instance_map_at, label_map_at
from labeling.synthetic import synthetic_field
from tests.conftest import require_shared
from tests.factories import ome_tiff_bytes, png_bytes, tiff_bytes

pytestmark = pytest.mark.django_db


def run(path: Path, **options: Any) -> tuple[str, str]:
    """Run the command; its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("import_dataset", str(path), stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def read_png(path: Path) -> np.ndarray:
    return np.asarray(PILImage.open(path))


def dense_of(image: Image) -> Annotation:
    return image.annotations.get(kind="dense")


@pytest.fixture
def single_set(tmp_path: Path) -> Path:
    """images/ + labels/: a 8-bit PNG, a 16-bit TIFF whose labels need 16 bits, one unlabelled."""
    root = tmp_path / "single"
    a = synthetic_field(seed=1, height=48, width=64, nuclei=4, radius=(4, 8))
    b = synthetic_field(seed=2, height=48, width=64, nuclei=5, radius=(4, 8))
    c = synthetic_field(seed=3, height=48, width=64, nuclei=3, radius=(4, 8))
    write(root / "images" / "a.png", png_bytes(a.brightfield))
    write(root / "labels" / "a.png", png_bytes(a.instances))
    write(root / "images" / "b.tif", tiff_bytes(b.fluorescence))
    wide = np.where(b.instances > 0, b.instances + 300, 0).astype(np.uint16)
    write(root / "labels" / "b.png", png_bytes(wide))
    write(root / "images" / "c.png", png_bytes(c.brightfield))
    write(root / "README.txt", b"not an image")
    return root


@pytest.fixture
def paired_set(tmp_path: Path) -> Path:
    """brightfield/ + fluorescence/ + nuclei/: field x has a mask, field y has none."""
    root = tmp_path / "paired"
    for seed, name in ((4, "x"), (5, "y")):
        field = synthetic_field(seed=seed, height=40, width=56, nuclei=5, radius=(3, 7))
        write(root / "brightfield" / f"{name}.png", png_bytes(field.brightfield))
        write(root / "fluorescence" / f"{name}.png", png_bytes(field.fluorescence))
    x = synthetic_field(seed=4, height=40, width=56, nuclei=5, radius=(3, 7))
    write(root / "nuclei" / "x.png", png_bytes(np.where(x.mask, 255, 0).astype(np.uint8)))
    return root


def test_it_imports_single_channel_images_with_their_instance_maps(single_set: Path, users: Any) -> None:
    out, err = run(single_set, project="Imported", owner="owner")
    project = Project.objects.get(name="Imported")
    assert project.role_of(users["owner"]) == Role.OWNER
    nucleus = project.classes.get(name="nucleus")
    assert nucleus.countable and nucleus.index == 2
    images = {image.name: image for image in project.images.all()}
    assert sorted(images) == ["a", "b", "c"]
    assert [image.channels.count() for image in images.values()] == [1, 1, 1]
    assert (images["a"].dtype, images["b"].dtype) == ("uint8", "uint16")
    b_tif = tifffile.imread(single_set / "images" / "b.tif")
    np.testing.assert_array_equal(channel_plane(images["b"].channels.get()), b_tif)
    for name in ("a", "b"):
        labels = read_png(single_set / "labels" / f"{name}.png")
        annotation = dense_of(images[name])
        assert annotation.version == 1 and annotation.created_by == users["owner"]
        np.testing.assert_array_equal(label_map_at(annotation), np.where(labels > 0, 2, 1))
        np.testing.assert_array_equal(instance_map_at(annotation), labels)
    assert not images["c"].annotations.exists()
    assert out.strip() == (
        f"Imported 3 images (2 with dense masks), skipped 0 already present, "
        f"into project 'Imported' (id {project.pk})."
    )
    assert "Importing" in err and "3/3" in err


def test_it_imports_paired_channels_with_nuclei_masks_as_components(paired_set: Path, users: Any) -> None:
    out, _ = run(paired_set, project="Paired", owner="owner")
    project = Project.objects.get(name="Paired")
    x, y = project.images.order_by("name")
    assert (x.name, y.name, x.dtype) == ("x", "y", "uint16")
    assert list(x.channels.values_list("name", "dtype")) == [
        ("brightfield", "uint8"),
        ("fluorescence", "uint16"),
    ]
    for channel in x.channels.all():
        expected = read_png(paired_set / channel.name / "x.png")
        np.testing.assert_array_equal(channel_plane(channel), expected)
    nuclei = read_png(paired_set / "nuclei" / "x.png") > 0
    annotation = dense_of(x)
    np.testing.assert_array_equal(label_map_at(annotation), np.where(nuclei, 2, 1))
    components, count = ndimage.label(nuclei)
    instances = instance_map_at(annotation)
    assert instances is not None and int(instances.max()) == count > 0
    np.testing.assert_array_equal(instances, components)
    assert not y.annotations.exists()
    assert "Imported 2 images (1 with dense masks)" in out


def test_running_it_again_imports_nothing(single_set: Path, users: Any) -> None:
    run(single_set, project="Imported", owner="owner")
    revisions = AnnotationRevision.objects.count()
    out, _ = run(single_set, project="Imported", owner="owner")
    project = Project.objects.get(name="Imported")
    assert "Imported 0 images (0 with dense masks), skipped 3 already present" in out
    assert project.images.count() == 3 and AnnotationRevision.objects.count() == revisions
    assert Project.objects.filter(name="Imported").count() == 1


def test_limit_imports_the_first_images_by_name(single_set: Path, users: Any) -> None:
    out, _ = run(single_set, project="Imported", owner="owner", limit=2)
    project = Project.objects.get(name="Imported")
    assert sorted(project.images.values_list("name", flat=True)) == ["a", "b"]
    assert "Imported 2 images (2 with dense masks), skipped 0" in out
    out, _ = run(single_set, project="Imported", owner="owner")
    assert "Imported 1 images (0 with dense masks), skipped 2 already present" in out


def test_it_adds_to_an_existing_project_and_class(single_set: Path, project: Project, users: Any) -> None:
    existing = project.classes.get(name="nucleus")
    upload = services.Upload("a.png", (single_set / "images" / "a.png").read_bytes())
    services.image_ingest(project=project, uploader=users["owner"], uploads=[upload])
    out, _ = run(single_set, project="Nuclei", owner="manager")
    assert f"skipped 1 already present, into project 'Nuclei' (id {project.pk})" in out
    assert project.classes.count() == 2
    b = project.images.get(name="b")
    assert set(np.unique(label_map_at(dense_of(b))).tolist()) == {1, existing.index}


def test_the_owner_defaults_to_the_first_superuser(single_set: Path, users: Any) -> None:
    with pytest.raises(CommandError, match="pass --owner"):
        run(single_set, project="Imported")
    admin = get_user_model().objects.create_superuser(username="admin", password="admin-password")
    run(single_set, project="Imported", limit=1)
    assert Project.objects.get(name="Imported").role_of(admin) == Role.OWNER


def test_it_refuses_an_unknown_owner_and_a_viewer(single_set: Path, project: Project) -> None:
    with pytest.raises(CommandError, match="no active user 'nobody'"):
        run(single_set, project="Imported", owner="nobody")
    with pytest.raises(CommandError, match="manager role"):
        run(single_set, project="Nuclei", owner="viewer")
    assert not project.images.exists()


def test_a_folder_of_neither_layout_is_refused(tmp_path: Path, users: Any) -> None:
    with pytest.raises(CommandError, match="is not a folder"):
        run(tmp_path / "missing", project="P", owner="owner")
    write(tmp_path / "odd" / "pictures" / "a.png", b"")
    with pytest.raises(CommandError, match="follows none of the data set layouts"):
        run(tmp_path / "odd", project="P", owner="owner")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    with pytest.raises(CommandError, match="holds no image files"):
        run(tmp_path / "empty", project="P", owner="owner")
    assert not Project.objects.exists()


def test_a_field_without_its_second_channel_is_refused(paired_set: Path, users: Any) -> None:
    (paired_set / "fluorescence" / "y.png").unlink()
    with pytest.raises(CommandError, match="lack a brightfield or a fluorescence"):
        run(paired_set, project="P", owner="owner")


def test_a_mask_of_the_wrong_size_stores_nothing_for_that_image(single_set: Path, users: Any) -> None:
    write(single_set / "labels" / "b.png", png_bytes(np.zeros((10, 10), dtype=np.uint16)))
    with pytest.raises(CommandError, match=r"b: .*label map is 10x10.* 1 images were imported"):
        run(single_set, project="Imported", owner="owner")
    assert list(Image.objects.values_list("name", flat=True)) == ["a"]


@pytest.mark.slow
def test_bbbc039_imports_all_forty_images_with_instance_maps(users: Any) -> None:
    root = require_shared("bbbc039")
    started = time.monotonic()
    out, _ = run(root, project="BBBC039", owner="owner")
    print(f"bbbc039 import: {time.monotonic() - started:.1f} s")
    project = Project.objects.get(name="BBBC039")
    images = list(project.images.order_by("name"))
    assert len(images) == 40
    assert {(image.dtype, image.width, image.height) for image in images} == {("uint16", 696, 520)}
    assert "Imported 40 images (40 with dense masks), skipped 0" in out
    sample = images[0]
    labels = read_png(root / "labels" / f"{sample.name}.png")
    assert labels.dtype == np.uint16 and labels.max() > 0
    annotation = dense_of(sample)
    nucleus = project.classes.get(name="nucleus").index
    np.testing.assert_array_equal(label_map_at(annotation) == nucleus, labels > 0)
    np.testing.assert_array_equal(instance_map_at(annotation), labels)


@pytest.mark.slow
def test_aisegcell_imports_paired_channels_with_nucleus_masks(users: Any) -> None:
    root = require_shared("aisegcell")
    started = time.monotonic()
    out, _ = run(root, project="aiSEGcell", owner="owner", limit=3)
    print(f"aisegcell import of 3: {time.monotonic() - started:.1f} s")
    project = Project.objects.get(name="aiSEGcell")
    images = list(project.images.order_by("name"))
    expected = sorted(path.stem for path in (root / "brightfield").glob("*.png"))[:3]
    assert [image.name for image in images] == expected
    assert "Imported 3 images (3 with dense masks)" in out
    nucleus = project.classes.get(name="nucleus").index
    for image in images:
        assert list(image.channels.values_list("name", flat=True)) == ["brightfield", "fluorescence"]
        nuclei = read_png(root / "nuclei" / f"{image.name}.png") > 0
        label_map = label_map_at(dense_of(image))
        np.testing.assert_array_equal(label_map == nucleus, nuclei)
        assert set(np.unique(label_map).tolist()) <= {1, nucleus}


# Microscopy files and existing annotations ---------------------------------------------------


def coco_document(instances_by_name: dict[str, np.ndarray]) -> dict[str, Any]:
    """COCO written with pycocotools' own RLE encoder from known instance maps."""
    document: dict[str, Any] = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "nucleus"}]}
    for image_id, (file_name, instances) in enumerate(instances_by_name.items(), start=1):
        height, width = instances.shape
        document["images"].append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        for value in np.unique(instances[instances > 0]):
            rle = mask_utils.encode(np.asfortranarray((instances == value).astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            document["annotations"].append(
                {
                    "id": len(document["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": rle,
                }
            )
    return document


def test_annotations_attach_a_coco_file_to_a_plain_folder_of_images(tmp_path: Path, users: Any) -> None:
    root = tmp_path / "plain"
    fields = {
        name: synthetic_field(seed=seed, height=32, width=40, nuclei=4) for seed, name in enumerate("xy")
    }
    for name, field in fields.items():
        write(root / f"{name}.png", png_bytes(field.brightfield))
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps(coco_document({f"{n}.png": f.instances for n, f in fields.items()})))
    out, _ = run(root, project="Plain", owner="owner", annotations=coco)
    assert "Imported 2 images" in out and "Attached annotations to 2 images" in out
    project = Project.objects.get(name="Plain")
    for name, field in fields.items():
        layer = dense_of(project.images.get(name=name))
        np.testing.assert_array_equal(instance_map_at(layer) > 0, field.instances > 0)
        assert len(np.unique(instance_map_at(layer))) == len(np.unique(field.instances))
    revisions = AnnotationRevision.objects.count()
    out, _ = run(root, project="Plain", owner="owner", annotations=coco)
    assert "skipped 2 images that already had dense masks" in out
    assert AnnotationRevision.objects.count() == revisions


def test_annotations_attach_a_folder_of_instance_label_images(
    single_set: Path, tmp_path: Path, users: Any
) -> None:
    masks = tmp_path / "masks"
    c = synthetic_field(seed=3, height=48, width=64, nuclei=3, radius=(4, 8))
    write(masks / "c.tif", tiff_bytes(c.instances))
    out, _ = run(single_set, project="Imported", owner="owner", annotations=masks, class_name="nucleus")
    assert "Attached annotations to 1 images" in out
    layer = dense_of(Project.objects.get(name="Imported").images.get(name="c"))
    np.testing.assert_array_equal(instance_map_at(layer), c.instances)


def test_an_ome_tiff_stack_in_a_plain_folder_becomes_its_planes_once(tmp_path: Path, users: Any) -> None:
    stack = np.random.default_rng(0).integers(0, 4000, size=(3, 2, 24, 24), dtype=np.uint16)
    write(tmp_path / "set" / "embryo.ome.tif", ome_tiff_bytes(stack, axes="ZCYX", channels=["bf", "dapi"]))
    out, _ = run(tmp_path / "set", project="Stacks", owner="owner")
    project = Project.objects.get(name="Stacks")
    assert sorted(project.images.values_list("name", flat=True)) == [f"embryo z0{z} t00" for z in range(3)]
    np.testing.assert_array_equal(
        channel_plane(project.images.get(name="embryo z02 t00").channels.get(name="dapi")), stack[2, 1]
    )
    out, _ = run(tmp_path / "set", project="Stacks", owner="owner")
    assert "Imported 0 images" in out and "skipped 1 already present" in out


def test_pages_says_what_the_pages_of_plain_tiffs_are(tmp_path: Path, users: Any) -> None:
    planes = [np.full((16, 16), value, np.uint16) for value in (1, 2)]
    write(tmp_path / "set" / "images" / "t.tif", tiff_bytes(*planes))
    with pytest.raises(CommandError, match="pages=channels, pages=z or pages=t"):
        run(tmp_path / "set", project="T", owner="owner")
    run(tmp_path / "set", project="T", owner="owner", pages="t")
    assert sorted(Image.objects.values_list("name", flat=True)) == ["t z00 t00", "t z00 t01"]
