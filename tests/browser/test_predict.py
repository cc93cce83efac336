"""Predicting in a real browser: a job waiting for a worker shows on a page opened meanwhile and is
cancelled there; a manager predicts a selection of the grid on a real worker and the cards count
the objects as the predictions arrive; in the annotator any version's prediction is shown with its
objects outlined and counted, and accepting it over human labels asks first, keeps them in the
history, and restore brings them back."""

from __future__ import annotations

from typing import Any

import numpy as np
from playwright.sync_api import Page, expect

from labeling import services
from labeling.models import Annotation, AnnotationKind
from labeling.selectors import label_map_at
from tests.factories import png_bytes
from tests.training.predict.conftest import add_images, threshold_prediction
from tests.versions import random_version
from training.models import Prediction, PredictionJob

JOB_TIMEOUT_MS = 180_000  # a worker starting and predicting on 2 busy CPU cores


def card(page: Page, image: Any) -> Any:
    return page.locator(f'.image-card[data-image="{image.pk}"]')


# No worker in this test: the job stays queued (it is the first test of the module, so the worker
# of the next one is not running yet).
def test_a_job_started_on_the_training_page_shows_on_a_page_opened_meanwhile_and_is_cancelled(
    signed_in, users, project
):
    add_images(project, users["owner"], [1, 2])
    version = random_version(project, users["owner"])
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}/training")
    page.locator(f'[data-testid=predict-version-button][data-version="{version.pk}"]').click()
    panel = page.get_by_test_id("predict-panel")
    expect(panel.get_by_test_id("predict-version")).to_have_value(str(version.pk))
    expect(panel.locator("option[value=selected]")).to_have_count(0)  # no grid here
    panel.get_by_test_id("predict-scope").select_option("all")
    panel.get_by_test_id("predict-start").click()
    row = panel.locator(".prediction-job").first
    expect(row).to_contain_text(f"Model v{version.pk}: waiting for a worker (2 images)")
    (job,) = PredictionJob.objects.all()
    assert job.selection == {"scope": "all"} and job.state == "queued"

    viewer = signed_in(users["viewer"])
    viewer.goto(f"/#/projects/{project.pk}")  # opened while the job waits: read from the server
    seen = viewer.locator(f'.prediction-job[data-job="{job.pk}"]')
    expect(seen).to_have_attribute("data-state", "queued")
    expect(seen.get_by_test_id("predict-cancel")).to_have_count(0)  # viewers only watch
    expect(viewer.get_by_test_id("predict-form")).to_be_hidden()

    row.get_by_test_id("predict-cancel").click()
    expect(row).to_have_attribute("data-state", "cancelled")
    expect(seen).to_have_attribute("data-state", "cancelled")  # on the viewer's page, live
    expect(seen).to_contain_text("cancelled after 0 of 2 images")
    assert PredictionJob.objects.get(pk=job.pk).state == "cancelled"


def test_a_manager_predicts_a_selection_and_the_cards_count_the_objects_as_they_arrive(
    worker, signed_in, users, project
):
    first, second, third = add_images(project, users["owner"], [1, 2, 3])
    version = random_version(project, users["owner"])
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}")
    expect(page.locator(".image-card")).to_have_count(3)
    expect(page.get_by_test_id("counts")).to_have_count(0)

    panel = page.get_by_test_id("predict-panel")
    panel.get_by_test_id("predict-start").click()  # "the selected images" with none selected
    expect(panel.get_by_text("Select images in the grid first")).to_be_visible()
    page.locator(f'[data-select="{first.name}"]').check()
    page.locator(f'[data-select="{third.name}"]').check()
    expect(panel.locator("option[value=selected]")).to_have_text("the selected images (2)")
    panel.get_by_test_id("predict-version").select_option(str(version.pk))
    panel.get_by_test_id("predict-start").click()

    row = panel.locator(".prediction-job").first
    expect(row).to_have_attribute("data-state", "succeeded", timeout=JOB_TIMEOUT_MS)
    expect(row).to_contain_text("done, 2 of 2 images predicted")
    assert row.locator("progress").evaluate("bar => bar.value") == 1
    for image in (first, third):
        counts = Prediction.objects.get(model_version=version, image=image).counts
        expect(card(page, image).get_by_test_id("counts")).to_have_text(f"{counts['2']} nucleus")
        expect(card(page, image).get_by_test_id("counts")).to_have_attribute("data-version", str(version.pk))
    expect(card(page, second).get_by_test_id("counts")).to_have_count(0)  # not selected, not predicted
    assert not Prediction.objects.filter(image=second).exists()


def test_accepting_a_chosen_versions_prediction_over_human_labels_asks_and_restore_brings_them_back(
    signed_in, users, project, screenshot
):
    (image,) = add_images(project, users["owner"], [3])
    human = np.ones((64, 64), np.uint8)
    human[40:50, 40:50] = 2
    layer = services.annotation_save(
        image=image, author=users["owner"], kind="dense", base_version=0, data={}, mask=png_bytes(human)
    )
    older, newer = (random_version(project, users["owner"], seed=seed) for seed in (1, 2))
    chosen = threshold_prediction(older, image)
    threshold_prediction(newer, image)

    page = signed_in(users["annotator"])
    page.goto(f"/#/projects/{project.pk}/images/{image.pk}")
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_have_attribute("data-ready", "true")
    expect(canvas).to_have_attribute("data-prediction", str(newer.pk))  # the newest by default
    page.get_by_test_id("prediction-version").select_option(str(older.pk))
    expect(canvas).to_have_attribute("data-prediction", str(older.pk))
    expect(page.get_by_test_id("prediction-counts")).to_have_text(f"Objects: {chosen.counts['2']} nucleus")
    expect(canvas).to_have_attribute("data-objects", str(chosen.counts["2"]))  # outlined from its instances
    screenshot(page, "predict-accept", full_page=False)
    csv = page.request.get(page.get_by_test_id("prediction-csv").get_attribute("href") or "").text()
    assert "centroid_x" in csv.splitlines()[0] and len(csv.splitlines()) == 1 + chosen.counts["2"]
    page.get_by_test_id("count-dense").click()
    expect(page.get_by_test_id("dense-counts")).to_have_text("Dense mask: 1 nucleus")  # the one square

    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_test_id("accept-prediction").click()
    for _ in range(50):  # the dialog's event may come just after the click returns
        if questions:
            break
        page.wait_for_timeout(100)
    assert questions and "history" in questions[0], questions
    assert Annotation.objects.get(pk=layer.pk).version == 1  # said no: nothing written

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("accept-prediction").click()
    expect(page.get_by_text("is now the dense mask (version 2)")).to_be_visible()
    dense = Annotation.objects.get(image=image, kind=AnnotationKind.DENSE)
    accepted = dense.revisions.get(version=2)
    assert accepted.author == users["annotator"] and accepted.data["provenance"]["model_version"] == older.pk
    predicted = label_map_at(dense)
    assert (predicted == 2).sum() > 0 and not (predicted == human).all()
    expect(page.get_by_test_id("layer")).to_have_value("dense")  # corrected next
    page.get_by_test_id("count-dense").click()
    expect(page.get_by_test_id("dense-counts")).to_have_text(f"Dense mask: {chosen.counts['2']} nucleus")

    page.get_by_test_id("history-button").click()
    history = page.get_by_test_id("history")
    expect(history.locator('[data-kind="dense"][data-version="2"]')).to_contain_text(
        f"model v{older.pk}'s prediction, accepted"
    )
    # The layer reloaded to version 2: a restore based on it is taken (a stale page would get 409).
    history.locator('[data-kind="dense"][data-version="1"]').get_by_test_id("restore").click()
    expect(history.locator('[data-kind="dense"][data-version="3"]')).to_be_visible()
    assert (label_map_at(Annotation.objects.get(pk=layer.pk)) == human).all()
