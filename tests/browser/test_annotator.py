"""The labelling tool in a real browser: upload, paint, undo, tag, two people at once, a viewer.

Strokes are painted with the mouse on the canvas and checked where they end up: in the database,
through the same label-map replay the training uses.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image as PILImage
from playwright.sync_api import Page, Route, expect

from labeling import services
from labeling.models import Annotation, AnnotationKind, Image
from labeling.selectors import label_map_at
from tests.factories import field_png
from training.features import instant
from webapp import jobs

SIZE = 128


def add_image(project, uploader, name: str = "field-a.png") -> Image:
    (image,) = services.image_ingest(
        project=project, uploader=uploader, uploads=[services.Upload(name, field_png(size=SIZE))]
    )
    return image


def open_annotator(page: Page, project, image) -> None:
    page.goto(f"/#/projects/{project.pk}/images/{image.pk}")
    expect(page.get_by_test_id("canvas")).to_have_attribute("data-ready", "true")


def choose(page: Page, label_class) -> None:
    """Pick a class with its number key (classes are numbered by index)."""
    page.keyboard.press(str(list(label_class.project.classes.order_by("index")).index(label_class) + 1))
    expect(page.locator(f'button.class-button[data-class="{label_class.index}"]')).to_have_class(
        re.compile("active")
    )


def drag_across(page: Page, *, row: float = 0.5, start: float = 0.3, end: float = 0.7) -> None:
    """A horizontal mouse stroke across the canvas, at fractions of its box."""
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * row
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (start + (end - start) * k / 10), y)
    page.mouse.up()


def scribbles(image: Image) -> np.ndarray:
    layer = Annotation.objects.filter(image=image, kind=AnnotationKind.SCRIBBLE).first()
    return label_map_at(layer) if layer else np.zeros((SIZE, SIZE), np.uint16)


def saved(page: Page) -> None:
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved", timeout=15_000)


def canvas_pixels(page: Page) -> np.ndarray:
    png = page.get_by_test_id("canvas").screenshot()
    return np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_upload_then_paint_undo_and_tag(signed_in, users, project, nucleus, screenshot, tmp_path):
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}")
    upload = tmp_path / "field-upload.png"
    upload.write_bytes(field_png(seed=3, size=SIZE))
    page.get_by_test_id("upload-input").set_input_files(str(upload))
    expect(page.get_by_text("Added field-upload.")).to_be_visible(timeout=15_000)
    card = page.locator("a.image-card", has_text="field-upload")
    expect(card.locator(".badge")).to_have_text("unlabelled")
    image = Image.objects.get(project=project, name="field-upload")

    card.click()
    expect(page.get_by_test_id("canvas")).to_have_attribute("data-ready", "true")
    choose(page, nucleus)
    drag_across(page)
    saved(page)
    painted = scribbles(image)
    assert (painted == nucleus.index).sum() > 50, "the stroke is stored as nucleus pixels"
    assert painted[SIZE // 2, SIZE // 2] == nucleus.index
    screenshot(page, "annotator")

    page.keyboard.press("Control+z")
    saved(page)
    assert scribbles(image).max() == 0, "undo removed the stroke on the server too"
    page.keyboard.press("Control+Shift+z")
    saved(page)
    assert (scribbles(image) == nucleus.index).sum() == (painted == nucleus.index).sum()

    page.locator(f'[data-tag="{nucleus.name}:present"]').click()
    expect(page.locator(f'[data-tag="{nucleus.name}:present"]')).to_have_class(re.compile("active"))
    tag = Annotation.objects.get(image=image, kind=AnnotationKind.TAG, label_class=nucleus)
    assert tag.revisions.order_by("-version").first().data == {"present": True}

    page.goto(f"/#/projects/{project.pk}")
    expect(page.locator("a.image-card", has_text="field-upload").locator(".badge")).to_have_text(
        ["scribbled", "tagged"]
    )


def test_two_people_see_each_others_strokes_without_reloading(signed_in, users, project, nucleus):
    image = add_image(project, users["owner"])
    painter, watcher = signed_in(users["annotator"]), signed_in(users["manager"])
    open_annotator(watcher, project, image)
    open_annotator(painter, project, image)
    expect(watcher.get_by_test_id("presence")).to_have_text("also here: annotator")
    before = canvas_pixels(watcher)

    choose(painter, nucleus)
    choose(watcher, nucleus)
    drag_across(painter)
    saved(painter)

    news = watcher.get_by_text("annotator saved scribble labels on this image.")
    expect(news).to_be_visible(timeout=15_000)
    after = canvas_pixels(watcher)
    height, width, _ = after.shape
    band = (slice(height // 2 - 2, height // 2 + 3), slice(int(width * 0.4), int(width * 0.6)))
    changed = np.abs(after[band] - before[band]).sum(axis=2) > 30
    assert changed.mean() > 0.8, "the other person's stroke appears on the watcher's canvas"
    untouched = (slice(5, 15), slice(5, 15))
    assert np.abs(after[untouched] - before[untouched]).max() < 10, "and nothing else changed"

    # Both paint; the later save meets a 409, merges, and both strokes survive.
    drag_across(painter, row=0.25)
    drag_across(watcher, row=0.75)
    saved(painter)
    saved(watcher)
    stored = scribbles(image)
    assert stored[SIZE // 4, SIZE // 2] == nucleus.index and stored[3 * SIZE // 4, SIZE // 2] == nucleus.index


def test_a_viewer_can_look_but_not_paint(signed_in, users, project):
    image = add_image(project, users["owner"])
    page = signed_in(users["viewer"])
    open_annotator(page, project, image)

    expect(page.get_by_test_id("viewer-note")).to_be_visible()
    expect(page.locator('button[data-tool="brush"]')).to_be_disabled()
    drag_across(page)
    expect(page.get_by_text("You are a viewer in this project")).to_be_visible()
    assert not Annotation.objects.filter(image=image).exists()


def test_an_owner_manages_classes_and_members_and_filters_the_grid(signed_in, users, project, nucleus):
    labelled, bare = (
        add_image(project, users["owner"], "field-a.png"),
        add_image(project, users["owner"], "field-b.png"),
    )
    services.annotation_save(
        image=labelled,
        author=users["annotator"],
        kind=AnnotationKind.SCRIBBLE,
        base_version=0,
        data={"strokes": [{"class_index": nucleus.index, "radius": 3, "points": [[10, 10]]}]},
    )
    page = signed_in(users["owner"])
    page.goto(f"/#/projects/{project.pk}")

    page.get_by_test_id("filter").select_option("scribbled")
    expect(page.locator("a.image-card")).to_have_count(1)
    expect(page.locator("a.image-card")).to_contain_text("field-a")
    page.get_by_test_id("filter").select_option("unlabelled")
    expect(page.locator("a.image-card")).to_contain_text(bare.name)

    rename = page.get_by_test_id("classes").get_by_label("Class name").last
    rename.fill("nucleus (DAPI)")
    rename.press("Enter")
    expect(page.get_by_text("Saved nucleus (DAPI).")).to_be_visible()
    nucleus.refresh_from_db()
    assert nucleus.name == "nucleus (DAPI)"
    page.get_by_placeholder("New class (e.g. nucleus)").fill("artifact")
    page.get_by_role("button", name="Add class").click()
    expect(page.get_by_test_id("classes").get_by_label("Class name")).to_have_count(3)
    assert project.classes.filter(name="artifact").exists()

    page.get_by_placeholder("User name").fill("stranger")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_text("If a user named stranger exists")).to_be_visible()
    expect(page.get_by_test_id("pending-invitations")).to_contain_text("stranger")
    assert not project.memberships.filter(user=users["stranger"]).exists()

    invited = signed_in(users["stranger"])  # joins only by accepting, on their projects page
    invited.goto("/")
    invited.get_by_test_id("invitations").get_by_role("button", name="Accept").click()
    expect(invited.get_by_text("you are annotator")).to_be_visible()
    assert project.memberships.get(user=users["stranger"]).role == "annotator"


# Records every save state the page shows (an observer sees each change, however brief).
WATCH_SAVE_STATE = """element => {
  window.__states = [element.dataset.state];
  new MutationObserver(() => window.__states.push(element.dataset.state))
    .observe(element, { attributes: true, attributeFilter: ["data-state"] });
}"""


def test_a_save_that_meets_a_409_merges_and_keeps_both_peoples_strokes(signed_in, users, project, nucleus):
    image = add_image(project, users["owner"])
    seed = services.annotation_save(  # a third person's stroke, in the top-left corner
        image=image,
        author=users["owner"],
        kind=AnnotationKind.SCRIBBLE,
        base_version=0,
        data={"strokes": [{"class_index": nucleus.index, "radius": 2, "points": [[4, 4], [10, 4]]}]},
    )
    first, second = signed_in(users["annotator"]), signed_in(users["manager"])
    open_annotator(first, project, image)
    open_annotator(second, project, image)
    first.get_by_test_id("save-state").evaluate(WATCH_SAVE_STATE)

    # The first person's save is held on its way to the server until the second person's landed.
    held: list[Route] = []
    released = False

    def hold_saves(route: Route) -> None:
        if route.request.method == "POST" and not released:
            held.append(route)
        else:
            route.continue_()

    first.route(f"**/api/images/{image.pk}/annotations/", hold_saves)
    choose(first, nucleus)
    choose(second, nucleus)
    drag_across(first, row=0.25)
    expect(first.get_by_test_id("save-state")).to_have_attribute("data-state", "saving")
    for _ in range(100):  # Playwright hands the request to the handler while it waits
        if held:
            break
        first.wait_for_timeout(50)
    assert len(held) == 1, "the first person's save is on its way, held"
    assert held[0].request.post_data_json["base_version"] == seed.version

    drag_across(second, row=0.75)
    saved(second)
    assert Annotation.objects.get(pk=seed.pk).version == seed.version + 1, "the second person saved first"

    released = True
    with first.expect_response(lambda response: response.request.method == "POST") as answer:
        held[0].continue_()  # reaches the server with an old base_version
    assert answer.value.status == 409
    saved(first)
    states = first.evaluate("() => window.__states")
    assert "conflict" in states and states.index("conflict") < len(states) - 1 and states[-1] == "saved", (
        states
    )

    layer = first.request.get(f"/api/images/{image.pk}/annotations/").json()
    (scribble,) = [a for a in layer if a["kind"] == "scribble"]
    assert scribble["version"] == seed.version + 2, "the merged save came after the second person's"
    revisions = first.request.get(f"/api/annotations/{scribble['id']}/revisions/").json()
    assert [r["author"] for r in revisions] == ["owner", "manager", "annotator"]
    mask = first.request.get(f"/api/annotations/{scribble['id']}/mask.png")
    stored = np.asarray(PILImage.open(io.BytesIO(mask.body())))
    assert stored[4, 7] == nucleus.index, "the first stroke stays"
    assert stored[SIZE // 4, SIZE // 2] == nucleus.index, "the held save's stroke is stored"
    assert stored[3 * SIZE // 4, SIZE // 2] == nucleus.index, "and so is the other person's"
    expect(first.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")


def test_an_image_whose_strokes_have_no_preview_yet_opens_without_one_and_without_errors(
    signed_in, users, project, nucleus, console_problems
):
    """The annotator asks for the stored instant preview of any image with strokes; with no worker
    in this module none is made, and the answer (204) is neither drawn nor logged as a failed load."""
    image = add_image(project, users["owner"])
    jobs.redis_client().delete(instant.preview_key(image.pk))  # ids repeat across test databases
    background = project.classes.get(index=1)
    strokes = [
        {"class_index": background.index, "radius": 2, "points": [[5, 64], [120, 64]]},
        {"class_index": nucleus.index, "radius": 2, "points": [[25, 32], [40, 32]]},
    ]
    services.annotation_save(
        image=image, author=users["annotator"], kind="scribble", base_version=0, data={"strokes": strokes}
    )
    page = signed_in(users["annotator"])
    with page.expect_response(lambda response: "instant-preview.png" in response.url) as asked:
        open_annotator(page, project, image)
    assert asked.value.status == 204
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("canvas")).not_to_have_attribute("data-instant-preview", re.compile(".*"))
    expect(page.get_by_test_id("instant-note")).to_be_hidden()
    assert console_problems == []
