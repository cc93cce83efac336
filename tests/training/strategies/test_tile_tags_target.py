"""What a tags run makes of an image's tags and tile tags: the classifier's samples and the
pseudo-mask, on tiny arrays with hand-made Score-CAM maps."""

from __future__ import annotations

import numpy as np

from labeling.tiletags import TileTag
from training.strategies.tags import TaggedImage, classifier_tiles, tags_target

THRESHOLDS = {"low": 0.2, "high": 0.8}


def ramp(x: np.ndarray, needed: np.ndarray | None) -> np.ndarray:
    """A stand-in Score-CAM map: 0 at the left edge of what it is given, 1 at the right."""
    assert needed is None or needed.shape == x.shape[1:]
    width = x.shape[2]
    return np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (x.shape[1], 1))


def item(present, tiles, size=(16, 16)):
    return TaggedImage(image=None, x=np.zeros((1, *size), dtype=np.float32), present=present, tiles=tiles)  # type: ignore[arg-type]


def test_an_untagged_image_is_unknown_but_where_its_tiles_say():
    tiles = [TileTag(0, 0, 8, 8, False), TileTag(8, 8, 8, 8, True)]
    target = tags_target(item(None, tiles), ramp, **THRESHOLDS)
    assert (target[:8, :8] == 0).all(), "absent tile: background"
    assert (target[:8, 8:] == -1).all() and (target[8:, :8] == -1).all(), "untagged: unknown"
    # The present tile gets its own map (0 .. 1 across its 8 columns): background, unknown, object.
    assert target[8, 8:].tolist() == [0, 0, -1, -1, -1, -1, 1, 1]


def test_a_present_image_keeps_its_whole_map_and_absent_tiles_win():
    tiles = [TileTag(8, 0, 8, 16, False), TileTag(4, 0, 8, 8, True)]
    target = tags_target(item(True, tiles), ramp, **THRESHOLDS)
    whole = np.linspace(0.0, 1.0, 16)
    assert (target[8:, :8] == np.where(whole[:8] <= 0.2, 0, -1)).all(), "the image's own map"
    assert (target[:, 8:] == 0).all(), "the absent tile overrides the map and the overlapping present tile"


def test_the_whole_map_is_asked_only_for_what_no_absent_tile_covers():
    asked = []

    def recording(x: np.ndarray, needed: np.ndarray | None) -> np.ndarray:
        asked.append(needed)
        return ramp(x, needed)

    tiles = [TileTag(8, 0, 8, 16, False), TileTag(0, 0, 8, 8, True)]
    tags_target(item(True, tiles), recording, **THRESHOLDS)
    assert len(asked) == 1 and asked[0] is not None
    assert not asked[0][:, 8:].any() and asked[0][:, :8].all()
    tags_target(item(None, tiles), recording, **THRESHOLDS)
    assert asked[1] is None, "a present tile's own map: all of it is needed"


def test_an_absent_image_is_background_and_its_present_tiles_are_mapped():
    target = tags_target(item(False, [TileTag(0, 0, 4, 16, True)]), ramp, **THRESHOLDS)
    assert (target[:, 4:] == 0).all()
    assert target[0, :4].tolist() == [0, -1, -1, 1]


def test_the_classifier_learns_from_the_image_and_from_each_tile_with_its_own_tag():
    x = np.arange(64 * 96, dtype=np.float32).reshape(1, 64, 96)
    tiles = [TileTag(0, 0, 64, 64, True), TileTag(64, 0, 32, 32, False)]
    samples = classifier_tiles(TaggedImage(None, x, None, tiles), 32)  # type: ignore[arg-type]
    assert [s.present for s in samples] == [True] * 4 + [False]
    assert (samples[-1].image == x[:, :32, 64:96]).all()
    assert (samples[1].image == x[:, :32, 32:64]).all()
    tagged_too = classifier_tiles(TaggedImage(None, x, False, tiles[1:]), 32)  # type: ignore[arg-type]
    assert len(tagged_too) == 6 + 1 and not any(s.present for s in tagged_too)
