"""The instant preview in a real browser: paint strokes of two classes with the mouse, and a real
worker's fast preview appears over the image, marked as a preview, on a disc nobody painted; it
is there again after a reload, and a deep model's prediction that arrives later replaces it."""

from __future__ import annotations

import re

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import Page, expect

from labeling.imageio import encode_png
from labeling.labelmaps import encode_map
from tests.browser.test_annotator import canvas_pixels, choose, open_annotator, saved
from tests.live.test_instant_preview import DISCS, SIZE, blob_image
from training.models import ModelVersion, Prediction, TrainingRun
from webapp import events, live


def screen_point(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where image pixel (x, y) is on the page while the view fits the image (painter/viewport.ts fit)."""
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    scale = min(box["width"] / SIZE, box["height"] / SIZE)
    left = box["x"] + (box["width"] - SIZE * scale) / 2
    top = box["y"] + (box["height"] - SIZE * scale) / 2
    return left + x * scale, top + y * scale


def paint(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A mouse stroke from image pixel `start` to `end`."""
    page.mouse.move(*screen_point(page, *start))
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(
            *screen_point(
                page, start[0] + (end[0] - start[0]) * k / 10, start[1] + (end[1] - start[1]) * k / 10
            )
        )
    page.mouse.up()


def redness(page: Page, x: float, y: float) -> int:
    """Red minus green of the canvas around image pixel (x, y): the nucleus colour is red."""
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    sx, sy = screen_point(page, x, y)
    col, row = round(sx - box["x"]), round(sy - box["y"])
    patch = canvas_pixels(page)[row - 2 : row + 3, col - 2 : col + 3]
    return int(patch[..., 0].mean() - patch[..., 1].mean())


def publish_prediction(image, author) -> ModelVersion:
    """What a finished run leaves and announces: a model version's stored prediction of the image
    (everything background) and predictions.ready, sent through the real channel layer."""
    run = TrainingRun.objects.create(project=image.project, created_by=author, state="succeeded")
    version = ModelVersion.objects.create(project=image.project, run=run, weights="models/none.pt")
    prediction = Prediction.objects.create(
        model_version=version,
        image=image,
        mask=default_storage.save(
            "predictions/test.png", ContentFile(encode_map(np.ones((SIZE, SIZE), np.uint16)))
        ),
        uncertainty_map=default_storage.save(
            "predictions/test-u.png", ContentFile(encode_png(np.zeros((SIZE, SIZE), np.uint8)))
        ),
        uncertainty=0.1,
    )
    mask_url = f"/api/predictions/{prediction.pk}/mask.png"
    entry = events.ScoredImage(
        image=image.pk, prediction=prediction.pk, uncertainty=0.1, mask_url=mask_url, counts={}
    )
    live.publish(
        image.project_id, events.PredictionsReady(model_version=version.pk, run=run.pk, predictions=[entry])
    )
    assert live.flush()
    return version


def test_painting_two_classes_brings_the_fast_preview_marked_as_a_preview(
    worker, signed_in, users, project, nucleus, screenshot
):
    image, _ = blob_image(project, users["owner"])
    background = project.classes.get(index=1)
    page = signed_in(users["annotator"])
    open_annotator(page, project, image)
    canvas, note = page.get_by_test_id("canvas"), page.get_by_test_id("instant-note")
    expect(canvas).not_to_have_attribute("data-instant-preview", re.compile(".*"))
    unpainted = DISCS[2][1], DISCS[2][0]  # (x, y) of the disc no stroke touches
    before = redness(page, *unpainted)

    choose(page, background)
    paint(page, (5, 64), (123, 64))
    choose(page, nucleus)
    paint(page, (25, 32), (40, 32))
    paint(page, (88, 32), (104, 32))
    saved(page)

    expect(canvas).to_have_attribute("data-instant-preview", re.compile(r"^\d+$"), timeout=90_000)
    expect(note).to_be_visible()
    expect(note).to_have_text("PREVIEW · fast preview from 1 labelled image, not the trained model")
    expect(page.locator('input[data-overlay="instant"]')).to_be_checked()
    page.wait_for_timeout(300)  # the frame that draws it
    assert redness(page, *unpainted) > before + 30, "the preview paints the unpainted disc as nucleus"
    screenshot(page, "instant-preview")

    page.keyboard.press("i")  # hide the preview: the note goes with it
    expect(note).to_be_hidden()
    expect(canvas).not_to_have_attribute("data-instant-preview", re.compile(".*"))
    page.keyboard.press("i")
    expect(note).to_be_visible()

    # Opened again, the page shows the stored preview: no model has predicted this image since.
    seq = canvas.get_attribute("data-instant-preview")
    page.reload()
    expect(canvas).to_have_attribute("data-ready", "true")
    expect(canvas).to_have_attribute("data-instant-preview", seq or "")
    expect(note).to_be_visible()

    # A deep model's prediction made after the preview replaces it: the newer guess is drawn.
    version = publish_prediction(image, users["owner"])
    expect(canvas).to_have_attribute("data-prediction", str(version.pk))
    expect(canvas).not_to_have_attribute("data-instant-preview", re.compile(".*"))
    expect(note).to_be_hidden()
