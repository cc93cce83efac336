"""Tile tags in a real browser: the tile tool, a click and the keys, stored as the class's layer."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from labeling import services
from labeling.models import Annotation, AnnotationKind
from tests.factories import field_png

from .test_annotator import choose, open_annotator


def stored_tiles(image, label_class, expected, timeout=15.0):
    """Wait until the class's tile layer holds `expected`; return it."""
    deadline = time.monotonic() + timeout
    tiles = None
    while time.monotonic() < deadline:
        layer = Annotation.objects.filter(
            image=image, kind=AnnotationKind.TILES, label_class=label_class
        ).first()
        tiles = layer.revisions.order_by("-version").first().data["tiles"] if layer else None
        if tiles == expected:
            return layer
        time.sleep(0.2)
    raise AssertionError(f"the stored tiles are {tiles}, not {expected}")


def test_tiles_are_tagged_by_click_and_keys_and_stored(signed_in, users, project, nucleus):
    (image,) = services.image_ingest(
        project=project, uploader=users["owner"], uploads=[services.Upload("big.png", field_png(size=256))]
    )
    page = signed_in(users["annotator"])
    open_annotator(page, project, image)
    page.keyboard.press("l")
    expect(page.locator('[data-tool="tiles"]')).to_have_class("active")
    page.get_by_test_id("tile-size").select_option("128")
    choose(page, nucleus)
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    # The fitted image is centred: just up and left of the centre is the top-left 128-px tile.
    page.mouse.click(box["x"] + box["width"] / 2 - 20, box["y"] + box["height"] / 2 - 20)
    stored_tiles(image, nucleus, [[0, 0, 128, 128, True]])
    page.keyboard.press("ArrowRight")
    page.keyboard.press("a")
    stored_tiles(image, nucleus, [[0, 0, 128, 128, True], [128, 0, 128, 128, False]])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("0")
    layer = stored_tiles(image, nucleus, [[128, 0, 128, 128, False]])
    expect(page.get_by_test_id("tile-count")).to_have_text("0 present, 1 absent (all classes)")
    assert layer.revisions.count() == 3, "one revision per change, each restorable"
