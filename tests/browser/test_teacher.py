"""The fluorescence teacher page in a real browser: tune a parameter and see the preview change,
then apply to every image on a real worker and watch the progress arrive over the socket."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from labeling.models import Annotation
from tests.factories import paired_field_image
from training.features.teacher import SOURCE

# Fields larger than the unit tests', so the preview has nuclei enough to change visibly.
FIELD = {"size": 128, "nuclei": 8, "radius": (6, 11)}


def nuclei_count(page: Page) -> int:
    count = page.get_by_test_id("teacher-count")
    expect(count).to_have_text(re.compile(r"^\d+$"))
    return int(count.inner_text())


def test_tuning_changes_the_preview_and_applying_labels_every_stained_image(
    worker, signed_in, users, project, screenshot
):
    stained = [paired_field_image(project, users["owner"], seed, **FIELD) for seed in (1, 2)]
    paired_field_image(project, users["owner"], 3, fluorescence=False, **FIELD)
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}")
    page.get_by_role("link", name="Fluorescence teacher").click()
    expect(page).to_have_url(re.compile(r"#/projects/\d+/teacher$"))

    found = nuclei_count(page)
    assert found >= 4
    overlay = page.get_by_test_id("teacher-overlay")
    before = overlay.get_attribute("src")
    # A size floor above every nucleus: the debounced preview comes back with none.
    page.locator('input[name="min_area"]').fill("5000")
    expect(page.get_by_test_id("teacher-count")).to_have_text("0")
    assert overlay.get_attribute("src") != before
    page.locator('input[name="min_area"]').fill("30")
    expect(page.get_by_test_id("teacher-count")).to_have_text(str(found))
    screenshot(page, "teacher")

    page.get_by_test_id("teacher-apply").click()
    expect(page.get_by_test_id("teacher-progress-text")).to_contain_text("done: 2 made", timeout=90_000)
    expect(page.get_by_test_id("teacher-progress")).to_have_attribute("value", "3")
    layers = Annotation.objects.filter(image__project=project, key=SOURCE, is_deleted=False)
    assert sorted(layers.values_list("image_id", flat=True)) == sorted(i.pk for i in stained)
    expect(page.locator(f'tr[data-image="{stained[0].pk}"] .teacher-state')).to_have_text("teacher")
    # The job is kept on the server: a reopened page shows how the last apply ended.
    page.reload()
    expect(page.get_by_test_id("teacher-progress-text")).to_contain_text("done: 2 made")
    expect(page.get_by_test_id("teacher-progress")).to_have_attribute("value", "3")
