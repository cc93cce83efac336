"""The training page in a real browser, with a real worker: start a tiny run from the form, watch
the curves receive points and the previews arrive, then find the prediction in the annotator."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.live.conftest import add_labelled_images
from training.models import TrainingRun

TIMEOUT_MS = 240_000  # a tiny run on 2 CPU cores, next to the browser


def test_a_run_started_in_the_browser_streams_its_curve_and_its_prediction(
    worker, signed_in, users, project, screenshot
):
    images = add_labelled_images(project, users["owner"], count=2, validation=1)
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}/training")
    form = page.get_by_test_id("run-form")
    # The default preset fills the sizes in; with no run finished here, the time is unknown.
    estimate = page.get_by_test_id("run-estimate")
    expect(estimate).to_contain_text("unknown until a run has finished here")
    expect(form.locator('select[name="preset"]')).to_have_value("standard")
    expect(form.locator('input[name="patch_size"]')).to_have_value("128")
    tiny = {"epochs": "3", "steps_per_epoch": "10", "patch_size": "64", "batch_size": "4"}
    for name, value in tiny.items():
        form.locator(f'input[name="{name}"]').fill(value)
    expect(form.locator('select[name="preset"]')).to_have_value("custom")
    # A fixed encoder needs one to start from: the server says so and nothing starts.
    freeze = form.locator('input[name="freeze_encoder"]')
    freeze.check()
    form.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("choose a warm start")).to_be_visible()
    freeze.uncheck()
    form.locator('input[name="test_time_augmentation"]').check()
    form.get_by_role("button", name="Start training").click()

    followed = page.get_by_test_id("followed-run")
    expect(page.get_by_text("is queued.")).to_be_visible()
    status = page.get_by_test_id("run-status")
    expect(status).to_have_attribute("data-state", "running", timeout=TIMEOUT_MS)
    expect(followed.locator(".chart canvas").first).to_be_visible()
    expect(page.get_by_test_id("previews").locator("figure").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(status).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT_MS)
    assert int(followed.locator("> div").get_attribute("data-validation-points")) == 3
    assert int(followed.locator("> div").get_attribute("data-points")) >= 3 + 3
    expect(page.get_by_test_id("versions").locator("tr")).to_have_count(2)  # header + the new version
    screenshot(page, "training")
    # That run's step time is now this installation's measure: choosing a preset shows a time.
    form.locator('select[name="preset"]').select_option("quick")
    expect(estimate).to_contain_text("from the step times of 1 finished run here")

    expect(status).to_have_attribute("data-predictions", "ready", timeout=TIMEOUT_MS)
    assert TrainingRun.objects.get().config["test_time_augmentation"] is True  # scored that way
    page.goto(f"/#/projects/{project.pk}/images/{images[0].pk}")
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_have_attribute("data-prediction", re.compile(r"\d+"), timeout=30_000)
