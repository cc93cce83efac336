"""A "tags" run started from the training page's strategy form, on a real worker: stage 1 shows
its progress, the run succeeds and the Score-CAM pseudo-masks are stored as derived layers."""

from __future__ import annotations

from playwright.sync_api import expect

from labeling.models import Annotation
from tests.live.test_tags_strategy import add_tagged_images

TIMEOUT_MS = 300_000  # two tiny trainings on 2 CPU cores, next to the browser


def test_a_tags_run_started_from_the_form_makes_pseudo_masks_and_a_model(
    worker, signed_in, users, project, nucleus, screenshot
):
    images = add_tagged_images(project, users["owner"], nucleus, [True, True, False])
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}/training")
    form = page.get_by_test_id("run-form")
    expect(page.get_by_test_id("tag-options")).to_be_hidden()
    form.locator('select[name="strategy"]').select_option("tags")
    expect(page.get_by_test_id("tag-options")).to_be_visible()
    form.locator('select[name="tag_class"]').select_option(str(nucleus.pk))
    tiny = {
        "tile": "64",
        "classifier_steps": "20",
        "epochs": "2",
        "steps_per_epoch": "10",
        "patch_size": "64",
        "batch_size": "4",
    }
    for name, value in tiny.items():
        form.locator(f'input[name="{name}"]').fill(value)
    # Before any tags run the stage before the training has no measured time.
    estimate = page.get_by_test_id("run-estimate")
    expect(estimate).to_contain_text("Score-CAM maps come first: unknown until a tags run has finished here")
    form.get_by_role("button", name="Start training").click()

    expect(page.get_by_text("is queued.")).to_be_visible()
    status = page.get_by_test_id("run-status")
    expect(status).to_have_attribute("data-stage", "score-cam 3/3", timeout=TIMEOUT_MS)
    expect(status).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT_MS)
    screenshot(page, "training-tags")
    # That run timed its classifier and maps: a tags run's estimate now adds them.
    form.locator('input[name="classifier_steps"]').fill("40")
    expect(estimate).to_contain_text("Score-CAM maps come first")
    expect(estimate).to_contain_text("more (from 1 finished tags run here)")
    layers = Annotation.objects.filter(kind="derived", key="score-cam", image__in=images)
    assert layers.count() == 3
