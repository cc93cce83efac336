"""Tag classifier, Score-CAM and CAM thresholding on tiny generated tiles with a planted signal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.ml.loop import Callbacks, TrainingCancelled
from training.ml.scorecam import (
    ClassifierConfig,
    TagClassifier,
    TaggedTile,
    cam_map,
    cam_maps,
    pseudo_mask,
    score_cam,
    train_classifier,
)

CPU = torch.device("cpu")
TINY = ClassifierConfig(in_channels=1, encoder="resnet18", depth=2, tile_size=32, batch_size=16, steps=80)
RADIUS = 5


def field(rng: np.random.Generator, size: tuple[int, int], centre: tuple[int, int] | None) -> np.ndarray:
    """Dim noise, with a bright disc (the signal) at `centre`. Shape: (1, H, W) float32."""
    image = rng.normal(0.1, 0.05, size=size).astype(np.float32)
    if centre is not None:
        yy, xx = np.mgrid[: size[0], : size[1]]
        image[(yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= RADIUS**2] = 1.0
    return image[None]


def tagged_tiles(seed: int, count: int) -> list[TaggedTile]:
    rng = np.random.default_rng(seed)
    tiles = []
    for i in range(count):
        present = i % 2 == 0
        centre = tuple(int(c) for c in rng.integers(RADIUS, 32 - RADIUS, size=2)) if present else None
        tiles.append(TaggedTile(field(rng, (32, 32), centre), present))  # type: ignore[arg-type]
    return tiles


@pytest.fixture(scope="module")
def classifier() -> TagClassifier:
    return train_classifier(tagged_tiles(0, 64), TINY, device=CPU)


def test_the_classifier_learns_a_trivial_tag(classifier: TagClassifier) -> None:
    held_out = tagged_tiles(1, 40)
    with torch.no_grad():
        logits = classifier(torch.from_numpy(np.stack([t.image for t in held_out])))
    predicted = (logits > 0).numpy()
    assert (predicted == np.array([t.present for t in held_out])).mean() >= 0.95


def test_score_cam_peaks_where_the_planted_signal_is(classifier: TagClassifier) -> None:
    rng = np.random.default_rng(5)
    for centre in ((16, 44), (46, 14)):
        image = field(rng, (64, 64), centre)
        cam, probability = score_cam(classifier, torch.from_numpy(image))
        cam_np = cam.numpy()
        assert probability > 0.9 and cam_np.max() == pytest.approx(1.0)
        peak = np.unravel_index(int(cam_np.argmax()), cam_np.shape)
        assert np.hypot(peak[0] - centre[0], peak[1] - centre[1]) <= RADIUS + 4  # within a map cell
        yy, xx = np.mgrid[:64, :64]
        inside = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= RADIUS**2
        far = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 > (3 * RADIUS) ** 2
        assert cam_np[inside].mean() > 3 * cam_np[far].mean()


def test_cam_map_covers_a_large_image_window_by_window_and_stays_low_where_nothing_is(
    classifier: TagClassifier,
) -> None:
    rng = np.random.default_rng(7)
    image = field(rng, (80, 150), (60, 120))  # 80x150: windows of 64, the last ones shifted in
    cam = cam_map(classifier, image, device=CPU, tile=64)
    assert cam.shape == (80, 150) and cam.min() >= 0.0 and cam.max() <= 1.0
    peak = np.unravel_index(int(cam.argmax()), cam.shape)
    assert np.hypot(peak[0] - 60, peak[1] - 120) <= RADIUS + 4
    assert cam[:40, :64].max() < 0.3  # a window without the signal: the classifier says absent
    empty = cam_map(classifier, field(rng, (64, 64), None), device=CPU, tile=64)
    assert empty.max() < 0.3


def test_windows_without_a_needed_pixel_are_skipped_and_the_needed_ones_keep_their_values(
    classifier: TagClassifier,
) -> None:
    rng = np.random.default_rng(7)
    image = field(rng, (80, 150), (60, 120))  # windows start at columns 0, 64 and 86
    full = cam_map(classifier, image, device=CPU, tile=64)
    for columns, signal_scored in ((slice(100, None), True), (slice(None, 40), False)):
        needed = np.zeros((80, 150), dtype=bool)
        needed[:, columns] = True  # the windows at column 0, or those at 64 and 86
        partial = cam_map(classifier, image, device=CPU, tile=64, needed=needed)
        assert np.array_equal(partial[needed], full[needed])
        assert bool(partial[60, 120] > 0.5) == signal_scored and full[60, 120] > 0.5
    with pytest.raises(ValueError, match="image scale needs every window"):
        cam_maps(classifier, image, device=CPU, tile=64, needed=needed)
    with pytest.raises(ValueError, match="needed has shape"):
        cam_map(classifier, image, device=CPU, tile=64, needed=needed[:, :100])


def test_the_image_scale_divides_the_unscaled_windows_by_the_image_peak(
    classifier: TagClassifier,
) -> None:
    rng = np.random.default_rng(7)
    image = field(rng, (80, 150), (60, 120))
    maps = cam_maps(classifier, image, device=CPU, tile=64)
    assert np.array_equal(maps["window"], cam_map(classifier, image, device=CPU, tile=64))
    assert maps["image"].max() == pytest.approx(1.0) and maps["image"].min() >= 0.0
    assert np.allclose(maps["image"], maps["raw"] / maps["raw"].max())
    peak = np.unravel_index(int(maps["image"].argmax()), maps["image"].shape)
    assert np.hypot(peak[0] - 60, peak[1] - 120) <= RADIUS + 4
    assert maps["image"][:40, :64].max() < 0.3  # a window without the signal stays low beside it
    with pytest.raises(ValueError, match="not one of window, image"):
        cam_maps(classifier, image, device=CPU, tile=64, scales=("tile",))


def test_thresholding_makes_object_background_and_unknown() -> None:
    cam = np.array([[0.0, 0.1, 0.2], [0.3, 0.49, 0.5], [0.7, 1.0, 0.21]], dtype=np.float32)
    target = pseudo_mask(cam, present=True, low=0.2, high=0.5)
    assert target.tolist() == [[0, 0, 0], [-1, -1, 1], [1, 1, -1]]
    assert target.dtype == np.int64


def test_an_image_tagged_absent_is_background_everywhere() -> None:
    cam = np.full((4, 5), 0.9, dtype=np.float32)
    assert (pseudo_mask(cam, present=False) == 0).all()


def test_thresholds_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="low < high"):
        pseudo_mask(np.zeros((2, 2), dtype=np.float32), present=True, low=0.6, high=0.4)


def test_the_classifier_needs_both_tags() -> None:
    only_present = [t for t in tagged_tiles(0, 8) if t.present]
    with pytest.raises(ValueError, match="0 absent"):
        train_classifier(only_present, TINY, device=CPU)


def test_training_reports_every_step_cancels_and_is_seeded() -> None:
    config = ClassifierConfig(in_channels=1, depth=2, tile_size=32, batch_size=4, steps=3)
    tiles = tagged_tiles(2, 8)
    steps: list[int] = []
    first = train_classifier(
        tiles, config, device=CPU, callbacks=Callbacks(on_step=lambda e: steps.append(e.step))
    )
    assert steps == [1, 2, 3]
    again = train_classifier(tiles, config, device=CPU)
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(TrainingCancelled):
        train_classifier(tiles, config, device=CPU, callbacks=Callbacks(should_cancel=lambda: True))


def test_a_tile_larger_than_the_tile_size_is_refused() -> None:
    big = [
        TaggedTile(np.zeros((1, 48, 48), np.float32), True),
        TaggedTile(np.zeros((1, 32, 32), np.float32), False),
    ]
    with pytest.raises(ValueError, match="cut it into tiles"):
        train_classifier(big, ClassifierConfig(depth=2, tile_size=32, batch_size=2, steps=1), device=CPU)
