"""A large image in the annotator: drawn from the server's display tiles at the level the zoom
needs, never as one full-resolution picture, and painted on at the right image coordinates."""

from __future__ import annotations

import math
import re
import time

import numpy as np
from playwright.sync_api import Page, Request, expect

from labeling import imageio, services
from labeling.models import Annotation, AnnotationKind, Image
from labeling.selectors import label_map_at
from tests.browser.test_annotator import choose, saved
from tests.factories import png_bytes

SIDE = 8192  # the size the issue asks for: five pyramid levels, 256 tiles at full resolution
TILE = re.compile(r"/tiles/(\d+)/(\d+)/(\d+)\.png")


def large_image(project, uploader, settings) -> Image:
    """A seeded 8192x8192 8-bit field: a checkerboard of 256-pixel squares over a gradient, so
    every tile differs from its neighbours. Its display rendition is made here, in the test's
    process, rather than by a worker."""
    settings.DISPLAY_SYNC_MAX_PIXELS = SIDE * SIDE
    rows = np.arange(SIDE, dtype=np.uint16)[:, None]
    cols = np.arange(SIDE, dtype=np.uint16)[None, :]
    field = ((rows // 256 + cols // 256) % 2 * 90 + cols // 64 + rows // 128).astype(np.uint8)
    (image,) = services.image_ingest(
        project=project, uploader=uploader, uploads=[services.Upload("large.png", png_bytes(field))]
    )
    return image


def level_at(scale: float, levels: int) -> int:
    """The pyramid level for a scale: the coarsest whose pixels are no larger than a screen pixel."""
    return max(0, min(levels - 1, math.floor(math.log2(1 / scale))))


def tiles_drawn(page: Page, level: int) -> None:
    """The canvas drew `level`, with every tile it needs there."""
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_have_attribute("data-level", str(level), timeout=20_000)
    expect(canvas).to_have_attribute("data-tiles", re.compile(r"^(\d+)/\1$"), timeout=20_000)


def test_an_8192_pixel_image_opens_from_tiles_zooms_and_takes_a_stroke_where_it_was_painted(
    signed_in, users, project, nucleus, settings, screenshot
):
    image = large_image(project, users["owner"], settings)
    levels = imageio.pyramid_levels(SIDE, SIDE)
    page = signed_in(users["annotator"])
    requested: list[str] = []

    def on_request(request: Request) -> None:
        if f"/api/images/{image.pk}/" in request.url:
            requested.append(request.url)

    page.on("request", on_request)

    started = time.monotonic()
    page.goto(f"/#/projects/{project.pk}/images/{image.pk}")
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_have_attribute("data-ready", "true", timeout=30_000)
    box = canvas.bounding_box()
    assert box is not None
    fit_scale = min(box["width"], box["height"]) / SIDE
    fit_level = level_at(fit_scale, levels)
    tiles_drawn(page, fit_level)
    opened = time.monotonic() - started
    assert 0 < fit_level < levels, "fitted, the image is drawn from a coarse level"
    assert not [url for url in requested if url.endswith("display.png")], "never the whole rendition"
    print(f"8192x8192 opened and fitted in {opened:.1f} s; requests: {len(requested)}")

    page.keyboard.press("f")  # fit to the canvas as laid out now: the image's centre at its centre
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(8):  # `+` zooms by 1.25 about the canvas's centre, where the image's centre stays
        page.keyboard.press("+")
    zoomed_level = level_at(fit_scale * 1.25**8, levels)
    assert 0 < zoomed_level < fit_level
    tiles_drawn(page, zoomed_level)
    page.keyboard.press("a")  # 1:1, still about the centre
    started = time.monotonic()
    tiles_drawn(page, 0)
    print(f"1:1 tiles in {time.monotonic() - started:.1f} s")
    full = {match.groups() for url in requested if (match := TILE.search(url)) and match.group(1) == "0"}
    shown = (box["width"] // 512 + 2) * (box["height"] // 512 + 2)
    assert 0 < len(full) <= shown, (
        f"only the tiles in view are fetched at full resolution ({len(full)} of 256)"
    )

    choose(page, nucleus)
    y = centre[1] + 40
    page.mouse.move(centre[0] - 100, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(centre[0] - 100 + 20 * step, y)
    page.mouse.up()
    saved(page)
    screenshot(page, "annotator-large", full_page=False)

    layer = Annotation.objects.get(image=image, kind=AnnotationKind.SCRIBBLE)
    (stroke,) = layer.revisions.get(version=1).data["strokes"]
    (x0, y0), (x1, y1) = stroke["points"][0], stroke["points"][-1]
    middle = SIDE / 2
    assert abs(x0 - (middle - 100)) <= 1 and abs(x1 - (middle + 100)) <= 1, stroke["points"]
    assert abs(y0 - (middle + 40)) <= 1 and abs(y1 - (middle + 40)) <= 1, stroke["points"]
    stored = label_map_at(layer)
    row = int(middle + 40)
    assert (stored[row, int(middle) - 95 : int(middle) + 95] == nucleus.index).all()
    assert (stored == nucleus.index).sum() < 205 * 20, "and nowhere else"
