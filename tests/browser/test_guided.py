"""Guided labelling in a real browser: "next needing labels" follows the model's uncertainty, the
uncertainty overlay shows where it is unsure, and one click retrains from the model with the
correction just painted."""

from __future__ import annotations

import io
import re

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from labeling import imageio, labelmaps, services
from labeling.models import Annotation, AnnotationKind, Image
from labeling.selectors import label_map_at
from tests.factories import field_png, png_bytes
from tests.live.conftest import TINY_RUN
from training.models import ModelVersion, Prediction, TrainingRun
from training.runs import create

SIZE = 96
# By name the next image after "a-field" is "b-field"; by uncertainty it is "c-field".
UNCERTAINTY = {"a-field": 0.10, "b-field": 0.20, "c-field": 0.80}


def add_image(project, uploader, name: str) -> Image:
    (image,) = services.image_ingest(
        project=project,
        uploader=uploader,
        uploads=[services.Upload(f"{name}.png", field_png(seed=len(name) + ord(name[0]), size=SIZE))],
        name=name,
    )
    return image


def scored_version(project, manager, images: dict[str, Image]) -> ModelVersion:
    """A model version as a finished run leaves it: its run (started as the API starts one), and a
    prediction of every image with its files (the annotator draws them)."""
    run = create.run_create(project=project, user=manager, options=TINY_RUN)
    TrainingRun.objects.filter(pk=run.pk).update(state="succeeded")
    version = ModelVersion.objects.create(
        project=project, run=run, weights="models/none.pt", config={**run.config, "ranges": [[0, 255]]}
    )
    for name, image in images.items():
        classes = np.ones((SIZE, SIZE), np.uint8)
        heat = np.zeros((SIZE, SIZE), np.uint8)
        heat[:, : SIZE // 2] = 255  # unsure on the left half
        mask = default_storage.save(
            f"predictions/test-{image.pk}.png", ContentFile(labelmaps.encode_map(classes))
        )
        heat_name = default_storage.save(
            f"predictions/test-{image.pk}-u.png", ContentFile(imageio.encode_png(heat))
        )
        Prediction.objects.create(
            model_version=version,
            image=image,
            mask=mask,
            uncertainty_map=heat_name,
            uncertainty=UNCERTAINTY.get(name, 0.05),
        )
    return version


def open_annotator(page: Page, project, image: Image, version: ModelVersion) -> None:
    page.goto(f"/#/projects/{project.pk}/images/{image.pk}")
    showing(page, image, version)


def showing(page: Page, image: Image, version: ModelVersion) -> None:
    """The annotator is up on `image`, with the version's prediction loaded."""
    expect(page.get_by_test_id("image-name")).to_have_text(image.name)
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_have_attribute("data-ready", "true")
    expect(canvas).to_have_attribute("data-prediction", str(version.pk))


def canvas_pixels(page: Page) -> np.ndarray:
    png = page.get_by_test_id("canvas").screenshot()
    return np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB")).astype(int)


def drag_across(page: Page) -> None:
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.4 + 0.2 * k / 10), y)
    page.mouse.up()


def test_next_goes_to_the_most_uncertain_image_and_retrain_takes_the_correction(
    signed_in, users, project, nucleus, screenshot
):
    images = {name: add_image(project, users["owner"], name) for name in UNCERTAINTY}
    labelled = add_image(project, users["owner"], "d-field")
    services.annotation_save(
        image=labelled,
        author=users["owner"],
        kind="dense",
        base_version=0,
        data={},
        mask=png_bytes(np.ones((SIZE, SIZE), np.uint8)),
    )
    version = scored_version(project, users["manager"], {**images, "d-field": labelled})

    page = signed_in(users["manager"])
    open_annotator(page, project, images["a-field"], version)
    page.get_by_role("button", name="next needing labels (N)").click()
    expect(page).to_have_url(re.compile(rf"#/projects/{project.pk}/images/{images['c-field'].pk}$"))
    showing(page, images["c-field"], version)
    expect(page.locator(".message")).to_contain_text(
        f"c-field: most uncertain under model v{version.pk} (mean entropy 0.800) (rank 1 of 4)"
    )

    # The uncertainty overlay (U) shows the unsure left half.
    overlay = page.locator('input[data-overlay="uncertainty"]')
    expect(overlay).not_to_be_checked()
    before = canvas_pixels(page)
    page.get_by_test_id("canvas").focus()
    page.keyboard.press("u")
    expect(overlay).to_be_checked()
    page.wait_for_timeout(300)  # one animation frame, generously
    after = canvas_pixels(page)
    half = after.shape[1] // 2
    changed = np.abs(after - before).sum(axis=2) > 30
    assert changed[:, : half - 20].mean() > 2 * changed[:, half + 20 :].mean() + 0.01

    # Paint a correction and retrain at once: the click saves the stroke before the run freezes labels.
    page.keyboard.press("2")  # the nucleus class
    drag_across(page)
    retrain = page.get_by_test_id("retrain")
    expect(retrain).to_have_text(f"Retrain from v{version.pk}")
    retrain.click()
    expect(page.locator(".message")).to_contain_text(
        re.compile(r"Run #\d+ is queued, warm-started from model v")
    )
    screenshot(page, "guided")
    expect(page.get_by_test_id("retrain-link")).to_have_attribute("href", f"#/projects/{project.pk}/training")

    run = TrainingRun.objects.exclude(pk=version.run_id).get(project=project)
    assert run.warm_start_id == version.pk and run.config == version.run.config
    correction = Annotation.objects.get(image=images["c-field"], kind=AnnotationKind.SCRIBBLE)
    assert [correction.pk, correction.version] in run.label_snapshot
    assert (label_map_at(correction) == nucleus.index).sum() > 20

    # A viewer sees the ranking's next image too, but no retrain button.
    viewer = signed_in(users["viewer"])
    open_annotator(viewer, project, images["c-field"], version)
    expect(viewer.get_by_role("button", name="next needing labels (N)")).to_be_visible()
    expect(viewer.get_by_test_id("retrain")).to_be_hidden()
