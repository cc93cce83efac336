"""The label-efficiency study page in a real browser, with a real worker: open it from the
training page, see the sizes it will train, start it, and watch the chart gain its points live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.live.conftest import add_labelled_images
from training.models import ModelVersion, Study

TIMEOUT_MS = 300_000  # three tiny runs on 2 CPU cores, next to the browser


def test_a_study_started_in_the_browser_draws_its_curve_point_by_point(
    worker, signed_in, users, project, screenshot
):
    add_labelled_images(project, users["owner"], count=3, validation=1)
    page = signed_in(users["manager"])
    # Let the home page finish loading first: the router does not drop a page that finishes
    # loading after the next one was asked for, so it could replace the training page.
    expect(page.get_by_text(project.name).first).to_be_visible()
    page.goto(f"/#/projects/{project.pk}/training")
    page.get_by_test_id("study-link").click()
    expect(page).to_have_url(re.compile(r"#/projects/\d+/study$"))

    plan = page.get_by_test_id("study-plan")
    expect(plan).to_have_attribute("data-sizes", "1,2,3")
    # Without dense masks no training image has labels left to learn from (the validation image
    # is still scored by its mask): the page says so first.
    page.locator('input[name="source"][value="dense"]').uncheck()
    expect(plan).to_contain_text("0 with scribble, derived labels")
    expect(page.get_by_role("button", name="Start study")).to_be_disabled()
    page.locator('input[name="source"][value="dense"]').check()
    expect(plan).to_have_attribute("data-sizes", "1,2,3")

    form = page.get_by_test_id("study-form")
    tiny = {"steps": "10", "steps_per_epoch": "10", "patch_size": "64", "batch_size": "2"}
    for name, value in tiny.items():
        form.locator(f'input[name="{name}"]').fill(value)
    form.get_by_role("button", name="Start study").click()
    expect(page.get_by_text("is queued: 3 runs.")).to_be_visible()

    chart = page.get_by_test_id("study-chart")
    expect(chart.locator("circle.pending")).to_have_count(3)
    # The points arrive one by one over the socket; the page is never reloaded.
    expect(chart).to_have_attribute("data-points", "1", timeout=TIMEOUT_MS)
    expect(chart.locator("circle.point[data-size='1']")).to_have_count(1)
    expect(page.get_by_test_id("study-gain")).to_contain_text("once two sizes are scored")
    expect(chart).to_have_attribute("data-points", "2", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("study-gain")).to_contain_text(
        re.compile(r"Going from 1 to 2 images added [+\u2212]\d")
    )
    expect(chart).to_have_attribute("data-points", "3", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("study-state")).to_have_attribute(
        "data-state", "succeeded", timeout=TIMEOUT_MS
    )
    expect(page.get_by_test_id("study-gain")).to_contain_text(
        re.compile(r"Going from 2 to 3 images added [+\u2212]\d")
    )

    # What the chart shows is what the model versions scored.
    study = Study.objects.get(project=project)
    for point in study.points.select_related("run"):
        f1 = ModelVersion.objects.get(run=point.run).metrics["validation"]["pixel_f1"]
        drawn = chart.locator(f"circle.point[data-size='{point.size}']").get_attribute("data-f1")
        assert float(drawn) == f1
    rows = page.get_by_test_id("study-points").locator("tr[data-size]")
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_contain_text("3 image(s)")
    screenshot(page, "study")

    # Opened afresh, the page draws the same curve from the API.
    page.reload()
    expect(page.get_by_test_id("study-chart")).to_have_attribute("data-points", "3")
