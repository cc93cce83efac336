"""Images in, from the browser: a multi-page TIFF the upload asks about and that arrives as a
z-stack; labelling one plane of a stack from the z slider and the plane keys; holding out images
for validation from the project page, seen live on a colleague's page; importing a zip of label
images from the annotation import box (picked, then dropped)."""

from __future__ import annotations

import base64
import re
import time
import zipfile

import numpy as np
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from labeling import labelmaps, services
from labeling.models import Annotation, AnnotationKind, Image, Split
from labeling.selectors import instance_map_at, label_map_at
from labeling.synthetic import synthetic_field
from tests.browser.test_annotator import choose, drag_across, saved
from tests.factories import field_png, png_bytes, tiff_bytes

SIZE = 96
DROPPED_ZIP = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "application/zip" }));
  return transfer;
}"""
TIMES = "\N{MULTIPLICATION SIGN}"  # as the grid's captions write sizes


def plane_tiff(planes: int = 3) -> bytes:
    """A plain multi-page TIFF (no OME or ImageJ metadata): nothing says what its pages are."""
    fields = (
        synthetic_field(seed=seed, height=SIZE, width=SIZE, nuclei=6).brightfield for seed in range(planes)
    )
    return tiff_bytes(*fields)


def scribbled(image: Image) -> int:
    """How many pixels of the image's scribble layer are labelled (0 without one)."""
    layer = Annotation.objects.filter(image=image, kind=AnnotationKind.SCRIBBLE).first()
    return int((label_map_at(layer) > 0).sum()) if layer else 0


def wait_for(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def on_plane(page: Page, name: str) -> None:
    expect(page.get_by_test_id("image-name")).to_have_text(name)
    expect(page.get_by_test_id("canvas")).to_have_attribute("data-ready", "true")


def test_a_multi_page_tiff_asks_what_its_pages_are_and_arrives_as_a_z_stack(
    signed_in, users, project, tmp_path
):
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}")
    animation = tmp_path / "cells.gif"
    PILImage.fromarray(np.zeros((8, 8), np.uint8)).save(animation, format="GIF")
    page.get_by_test_id("upload-input").set_input_files(str(animation))
    refusal = page.get_by_test_id("drop-zone").locator(".message.error")
    expect(refusal).to_contain_text("Nothing was added: ", timeout=15_000)
    expect(refusal).to_contain_text(
        re.compile("gif image", re.IGNORECASE)
    )  # the server's own words, naming the format
    expect(page.get_by_test_id("pages-question")).to_have_count(0)  # nothing to ask about a GIF

    upload = tmp_path / "deep.tif"
    upload.write_bytes(plane_tiff(3))
    page.get_by_test_id("upload-input").set_input_files(str(upload))

    question = page.get_by_test_id("pages-question")
    expect(question).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("drop-zone")).to_contain_text("several pages and no metadata")
    assert not Image.objects.filter(project=project).exists(), "nothing is stored until the uploader says"
    question.locator('[data-pages="z"]').click()

    expect(page.get_by_text("Added deep z00 t00, deep z01 t00, deep z02 t00.")).to_be_visible(timeout=15_000)
    expect(question).to_be_hidden()
    cards = page.locator("a.image-card")
    expect(cards).to_have_count(1)  # the stack is one card
    expect(cards.first).to_contain_text(f"deep · 96{TIMES}96 · 3 planes (z 3 {TIMES} t 1)")
    planes = Image.objects.filter(project=project).order_by("z")
    assert [(image.z, image.t) for image in planes] == [(0, 0), (1, 0), (2, 0)]
    assert len({image.stack_id for image in planes}) == 1 and planes[0].stack_id is not None
    assert planes[0].sources.get().pages == "z"


def test_a_label_painted_on_a_plane_lands_on_that_plane_only(signed_in, users, project, nucleus, screenshot):
    planes = services.image_ingest(
        project=project,
        uploader=users["owner"],
        uploads=[services.Upload("deep.tif", plane_tiff(3))],
        pages="z",
    )
    first, middle, last = sorted(planes, key=lambda image: image.z)
    Image.objects.filter(stack=first.stack).update(
        pixel_size_x=0.325, pixel_size_y=0.325
    )  # as a manager sets it
    page = signed_in(users["annotator"])
    page.goto(f"/#/projects/{project.pk}/images/{first.pk}")
    on_plane(page, "deep z00 t00")
    expect(page.get_by_test_id("pixel-size")).to_have_text(" · 0.325 µm/px")
    expect(page.get_by_test_id("t-slider")).to_have_count(0)  # one time point: no t slider

    page.get_by_test_id("z-slider").fill("1")
    on_plane(page, "deep z01 t00")
    expect(page.get_by_test_id("image-info")).to_contain_text("z 2 of 3")
    choose(page, nucleus)
    drag_across(page)
    saved(page)
    assert scribbled(middle) > 30
    assert scribbled(first) == scribbled(last) == 0, "the other planes keep no label"
    screenshot(page, "stack-plane")

    page.keyboard.press(".")  # the next z-plane
    on_plane(page, "deep z02 t00")
    choose(page, nucleus)
    drag_across(page, row=0.3)
    page.keyboard.press(",")  # straight back, before the autosave: leaving saves it
    on_plane(page, "deep z01 t00")
    wait_for(lambda: scribbled(last) > 30, "the stroke painted just before leaving the plane was saved")
    assert scribbled(first) == 0


def test_a_manager_holds_out_images_for_validation_and_a_colleague_sees_it_live(signed_in, users, project):
    uploads = [services.Upload(f"field-{n}.png", field_png(seed=n, size=32)) for n in range(5)]
    services.image_ingest(project=project, uploader=users["owner"], uploads=uploads)
    colleague = signed_in(users["annotator"])
    colleague.goto(f"/#/projects/{project.pk}")
    expect(colleague.locator("a.image-card")).to_have_count(5)
    expect(colleague.get_by_test_id("hold-out")).to_have_count(
        0
    )  # annotators see the split, not the controls

    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}")
    page.locator('input[name="holdout_count"]').fill("2")
    page.locator('input[name="holdout_seed"]').fill("3")
    page.get_by_test_id("hold-out").click()
    expect(page.get_by_text("2 image(s) held out for validation with seed 3; 3 train.")).to_be_visible()

    held = set(Image.objects.filter(project=project, split=Split.VALIDATION).values_list("name", flat=True))
    assert len(held) == 2
    assert Image.objects.filter(project=project, split=Split.TRAIN).count() == 3
    for viewer in (page, colleague):
        validation = viewer.locator("a.image-card", has=viewer.locator(".split-badge.validation"))
        expect(validation).to_have_count(2)
        assert {text.split(" · ")[0] for text in validation.locator(".caption").all_inner_texts()} == held
        expect(viewer.locator(".split-badge.train")).to_have_count(3)
        expect(viewer.get_by_test_id("split-counts")).to_contain_text("train 3 · validation 2 · unassigned 0")

    # the same seed on the same images chooses the same ones again
    page.locator('a.image-card:has(.split-badge.validation) + label input[type="checkbox"]').first.check()
    page.locator('[data-split="train"]').click()
    expect(page.get_by_text("1 image(s) now in train.")).to_be_visible()
    expect(colleague.locator(".split-badge.validation")).to_have_count(1)
    page.get_by_test_id("hold-out").click()
    expect(page.locator(".split-badge.validation")).to_have_count(2)
    assert (
        set(Image.objects.filter(project=project, split=Split.VALIDATION).values_list("name", flat=True))
        == held
    )


def test_a_zip_of_label_images_imports_from_the_project_page(
    signed_in, users, project, nucleus, tmp_path, screenshot
):
    fields = {
        name: synthetic_field(seed=seed, height=48, width=56, nuclei=4, radius=(3, 6))
        for seed, name in enumerate("abc", start=1)
    }
    uploads = [
        services.Upload(f"field-{name}.png", png_bytes(field.brightfield)) for name, field in fields.items()
    ]
    images = {
        image.name: image
        for image in services.image_ingest(project=project, uploader=users["owner"], uploads=uploads)
    }
    mask = labelmaps.encode_map(np.ones((48, 56), np.uint16))
    services.annotation_save(
        image=images["field-c"], author=users["owner"], kind="dense", base_version=0, data={}, mask=mask
    )
    archive = tmp_path / "masks.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, field in fields.items():
            bundle.writestr(f"masks/field-{name}.png", png_bytes(field.instances))

    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}")
    box = page.get_by_test_id("annotation-import")
    expect(box.locator('input[name="class_name"]')).to_have_value("nucleus")
    box.get_by_test_id("import-input").set_input_files(str(archive))

    expect(box).to_contain_text("Attached labels to 2 image(s)", timeout=15_000)
    result = box.get_by_test_id("import-result")
    expect(result.locator("li.attached")).to_have_text(["field-a: attached", "field-b: attached"])
    expect(result.locator("li.skipped")).to_have_text(["field-c: skipped, already has a dense mask"])
    for name in ("a", "b"):
        layer = images[f"field-{name}"].annotations.get(kind=AnnotationKind.DENSE)
        assert np.array_equal(instance_map_at(layer), fields[name].instances)
        assert np.array_equal(label_map_at(layer), np.where(fields[name].instances > 0, nucleus.index, 1))
    assert images["field-c"].annotations.get(kind=AnnotationKind.DENSE).version == 1, (
        "the existing mask is left"
    )
    expect(page.locator("a.image-card", has_text="field-a").locator(".badge.dense")).to_be_visible()
    expect(page.locator("a.image-card img").first).to_have_js_property("complete", True)
    screenshot(page, "annotation-import")

    # The same zip dropped on the box: every image has a dense mask now, so each is skipped
    transfer = page.evaluate_handle(
        DROPPED_ZIP, [base64.b64encode(archive.read_bytes()).decode(), "masks.zip"]
    )
    box.get_by_test_id("import-zone").dispatch_event("drop", {"dataTransfer": transfer})
    expect(box).to_contain_text("Attached labels to 0 image(s) (0 objects); 3 skipped.", timeout=15_000)
    expect(result.locator("li.skipped")).to_have_count(3)
    assert images["field-a"].annotations.get(kind=AnnotationKind.DENSE).version == 1
