"""The team workflow in a real browser, two people in two browser contexts: a manager assigns an
image, the annotator labels and submits it, the manager pins a question and requests changes, the
annotator sees it live, fixes and resubmits, the manager approves; then a run on approved labels
only starts on a real worker."""

from __future__ import annotations

import re

import numpy as np
from playwright.sync_api import Page, expect

from labeling import services
from labeling.models import Annotation, AnnotationKind, ImageWork, Split
from tests.browser.test_annotator import drag_across
from tests.factories import field_png, png_bytes
from training.models import TrainingRun

SIZE = 128
RUN_TIMEOUT_MS = 240_000


def add_image(project, owner, name: str, split: str | None = None):
    (image,) = services.image_ingest(
        project=project,
        uploader=owner,
        uploads=[services.Upload(f"{name}.png", field_png(seed=len(name), size=SIZE))],
    )
    return services.image_update(image=image, split=split) if split else image


def status_is(page: Page, text: str) -> None:
    expect(page.get_by_test_id("image-status")).to_have_text(text, timeout=15_000)


def saved(page: Page) -> None:
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved", timeout=15_000)


def paint(page: Page, row: float) -> None:
    page.get_by_test_id("canvas").focus()
    page.keyboard.press("b")
    page.keyboard.press("2")  # nucleus
    drag_across(page, row=row)
    saved(page)


def open_review(page: Page, project, image) -> None:
    """From the project page, as a manager goes there: "Review submitted (1) →"."""
    page.goto(f"/#/projects/{project.pk}")
    page.get_by_test_id("review-link").click()
    expect(page).to_have_url(re.compile(rf"#/projects/{project.pk}/review/{image.pk}$"))
    expect(page.get_by_test_id("canvas")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("review-position")).to_have_text("Review · 1 of 1 submitted · by annotator")


def test_assign_label_submit_send_back_fix_approve_then_train_on_approved_labels(
    worker, signed_in, users, project, nucleus, screenshot
):
    field = add_image(project, users["owner"], "field-01")
    add_image(project, users["owner"], "field-02")
    check = add_image(project, users["owner"], "check", Split.VALIDATION)
    truth = np.where(np.arange(SIZE)[:, None] < SIZE // 2, 1, 2).repeat(SIZE, axis=1).astype(np.uint8)
    services.annotation_save(
        image=check, author=users["manager"], kind="dense", base_version=0, data={}, mask=png_bytes(truth)
    )
    manager, annotator = signed_in(users["manager"]), signed_in(users["annotator"])

    # The manager assigns field-01 to the annotator from the grid.
    manager.goto(f"/#/projects/{project.pk}")
    manager.locator('[data-select="field-01"]').check()
    manager.get_by_test_id("assignee").select_option("annotator")
    manager.get_by_test_id("assign").click()
    card = manager.locator("a.image-card", has_text="field-01")
    expect(card.get_by_test_id("assignee")).to_have_text(" → annotator")

    # The annotator finds it in their queue and under "My images", labels it and submits it (S).
    annotator.goto(f"/#/projects/{project.pk}")
    expect(annotator.get_by_test_id("my-queue")).to_contain_text("field-01 · to do")
    annotator.get_by_test_id("my-images").check()
    expect(annotator.locator("a.image-card")).to_have_count(1)
    annotator.locator("a.image-card", has_text="field-01").click()
    expect(annotator.get_by_test_id("canvas")).to_have_attribute("data-ready", "true")
    status_is(annotator, "to do · annotator")
    paint(annotator, 0.5)
    status_is(annotator, "in progress · annotator")
    annotator.keyboard.press("s")
    status_is(annotator, "submitted · annotator")
    # Under review its labels are the manager's to touch: the annotator's brush is refused.
    drag_across(annotator, row=0.8)
    expect(annotator.locator(".message")).to_contain_text(
        "field-01 is submitted: its labels stay as reviewed"
    )

    # The manager reviews it: pins a question on a point (C, click) and sends it back (R).
    open_review(manager, project, field)
    manager.get_by_test_id("canvas").focus()
    manager.keyboard.press("c")
    box = manager.get_by_test_id("canvas").bounding_box()
    manager.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    manager.get_by_test_id("comment-body").fill("Is this a nucleus?")
    manager.get_by_test_id("comment-add").click()
    expect(manager.get_by_test_id("comment-thread")).to_have_count(1)
    manager.get_by_test_id("canvas").focus()
    manager.keyboard.press("r")
    manager.get_by_test_id("change-note").fill("The nucleus on the left is missing.")
    manager.get_by_test_id("send-back").click()
    expect(manager.get_by_test_id("review-empty")).to_be_visible()  # nothing else to review

    # The annotator sees it at once, without reloading: the status, the note and the comments.
    status_is(annotator, "changes requested · annotator")
    expect(annotator.locator(".message")).to_contain_text(
        "Changes requested on field-01 by manager: “The nucleus on the left is missing.”"
    )
    expect(annotator.get_by_test_id("comment-thread")).to_have_count(2)
    expect(annotator.get_by_test_id("comments")).to_contain_text("Is this a nucleus?")
    # They fix it and submit it again.
    paint(annotator, 0.3)
    status_is(annotator, "in progress · annotator")
    annotator.keyboard.press("s")
    status_is(annotator, "submitted · annotator")

    # The manager approves it from the keyboard (V), with the author's labels highlighted.
    open_review(manager, project, field)
    expect(manager.locator('input[data-overlay="author"]')).to_be_checked()
    manager.get_by_test_id("history-button").click()
    expect(manager.get_by_test_id("history")).to_contain_text("manager: request changes → changes requested")
    screenshot(manager, "team-review")
    manager.get_by_test_id("canvas").focus()
    manager.keyboard.press("v")
    expect(manager.get_by_test_id("review-empty")).to_be_visible()
    work = ImageWork.objects.get(image=field)
    assert work.status == "approved"
    layer = Annotation.objects.get(image=field, kind=AnnotationKind.SCRIBBLE)
    assert work.approved_layers == [[layer.pk, layer.version]]

    # A run on approved labels only starts: it froze field-01's approved labels and the validation mask.
    manager.goto(f"/#/projects/{project.pk}/training")
    form = manager.get_by_test_id("run-form")
    for name, value in {"epochs": "2", "steps_per_epoch": "5", "patch_size": "64", "batch_size": "2"}.items():
        form.locator(f'input[name="{name}"]').fill(value)
    form.get_by_test_id("approved-only").check()
    form.get_by_role("button", name="Start training").click()
    expect(manager.get_by_text("is queued.")).to_be_visible()
    run = TrainingRun.objects.get(project=project)
    assert run.config["label_approval"] == "approved"
    dense = Annotation.objects.get(image=check, kind=AnnotationKind.DENSE)
    assert sorted(map(tuple, run.label_snapshot)) == sorted([(layer.pk, layer.version), (dense.pk, 1)])
    expect(manager.get_by_test_id("run-status")).to_have_attribute(
        "data-state", re.compile("running|succeeded"), timeout=RUN_TIMEOUT_MS
    )
