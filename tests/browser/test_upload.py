"""Upload by drag and drop: a real drop event carrying a generated PNG, the progress bar while it
goes up, and the new image in the grid."""

from __future__ import annotations

import base64
import hashlib

from playwright.sync_api import Route, expect

from labeling.models import Image
from tests.factories import field_png

# Records what the upload box says each time it changes, with the bar as it is then (its value is
# a property, which no mutation observer sees); observers run for every change, so none is missed.
WATCH_UPLOAD_BOX = """zone => {
  const bar = zone.querySelector("progress");
  window.__upload = [];
  const record = () => window.__upload.push({ text: zone.innerText, shown: !bar.hidden, value: bar.value });
  const everything = { subtree: true, childList: true, characterData: true, attributes: true };
  new MutationObserver(record).observe(zone, everything);
}"""

DATA_TRANSFER = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/png" }));
  return transfer;
}"""


def test_an_image_dropped_on_the_project_uploads_with_a_progress_bar_and_joins_the_grid(
    signed_in, users, project
):
    png = field_png(seed=11, size=256)
    page = signed_in(users["manager"])
    page.goto(f"/#/projects/{project.pk}")
    zone = page.get_by_test_id("drop-zone")
    bar = zone.locator("progress")
    expect(bar).to_be_hidden()
    zone.evaluate(WATCH_UPLOAD_BOX)

    held: list[Route] = []  # the upload waits here until the test has seen the bar
    page.route(f"**/api/projects/{project.pk}/images/", lambda route: held.append(route))
    transfer = page.evaluate_handle(DATA_TRANSFER, [base64.b64encode(png).decode(), "dropped-field.png"])
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(zone).to_have_class("drop-zone over")
    zone.dispatch_event("drop", {"dataTransfer": transfer})

    expect(bar).to_be_visible()
    expect(zone).to_contain_text("Uploading 1 file(s)…")
    assert not Image.objects.filter(project=project).exists(), "nothing is stored before the request goes"
    assert len(held) == 1
    held[0].continue_()

    expect(zone).to_contain_text("Added dropped-field.", timeout=15_000)
    expect(bar).to_be_hidden()
    card = page.locator("a.image-card", has_text="dropped-field")
    expect(card).to_be_visible()
    expect(card.locator(".badge")).to_have_text("unlabelled")
    expect(card.locator("img")).to_have_js_property("complete", True)

    seen = page.evaluate("() => window.__upload")
    reading = [state for state in seen if "Reading the images on the server" in state["text"]]
    assert reading and reading[0]["shown"] and reading[0]["value"] == 1, f"the bar filled up: {seen}"
    values = [state["value"] for state in seen if state["shown"]]
    assert values == sorted(values), "and never went back"
    image = Image.objects.get(project=project, name="dropped-field")
    assert (image.width, image.height) == (256, 256)
    source = image.channels.get().source
    assert source.sha256 == hashlib.sha256(png).hexdigest(), "the dropped file is stored byte for byte"
