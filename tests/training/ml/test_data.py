"""Normalisation, merging human and derived labels, and where patches come from."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.ml.config import TrainConfig
from training.ml.data import (
    OUTSIDE,
    UNKNOWN,
    PatchSampler,
    Sample,
    channel_ranges,
    class_weights,
    covering_tiles,
    merge_targets,
    normalize,
)


def test_normalize_maps_the_robust_range_to_zero_one_per_channel():
    rng = np.random.default_rng(0)
    planes = np.stack([rng.normal(150, 5, (64, 64)), rng.normal(1000, 20, (64, 64))])
    planes[0, 20:40, 20:40] += 400  # objects, far brighter than the noise, in each channel
    planes[1, 5:30, 30:60] += 3000
    out = normalize(planes.astype(np.uint16))
    assert out.dtype == np.float32 and out.shape == planes.shape
    for channel in out:
        assert -0.05 < np.percentile(channel, 1) < 0.05 and 0.95 < np.percentile(channel, 99.8) < 1.05


def test_fixed_channel_ranges_keep_an_empty_field_dark():
    rng = np.random.default_rng(1)
    field = rng.normal(150, 7, (1, 128, 128))
    field[0, 40:80, 40:80] += 1000
    empty = rng.normal(150, 7, (1, 128, 128))
    assert np.percentile(normalize(empty.astype(np.uint16)), 99.8) > 0.95, "its own range: noise stretched"
    ranges = channel_ranges([field.astype(np.uint16)])
    assert np.percentile(normalize(empty.astype(np.uint16), ranges=ranges), 99.8) < 0.05
    assert np.median(normalize(field.astype(np.uint16), ranges=ranges)[0, 40:80, 40:80]) > 0.9
    with pytest.raises(ValueError, match="2 channel ranges"):
        normalize(empty, ranges=[(0, 1), (0, 1)])


def test_human_labels_win_over_derived_ones():
    human = np.array([[-1, 1], [0, -1]])
    derived = np.array([[1, 0], [1, -1]])
    target, weight = merge_targets(human, derived, derived_weight=0.3)
    assert target.tolist() == [[1, 1], [0, -1]]
    assert np.allclose(weight, [[0.3, 1.0], [1.0, 0.0]])


def test_class_weights_favour_the_rare_class():
    target = np.zeros((10, 10), np.int64)
    target[0, :4] = 1  # 4 of 100 pixels
    weights = class_weights([Sample(np.zeros((1, 10, 10), np.float32), target)], 2)
    assert weights[1] > weights[0] and weights.mean() == pytest.approx(1.0)


def test_patches_are_centred_on_labelled_pixels_of_every_class():
    target = np.full((256, 256), -1, np.int64)
    target[10, 10] = 1  # a single labelled pixel of a rare class
    target[200:210, 200:210] = 0
    image = np.zeros((1, 256, 256), np.float32)
    config = TrainConfig(patch_size=32, batch_size=64, augment=False, labelled_patch_fraction=1.0)
    x, y, w = PatchSampler([Sample(image, target)], config, seed=0).batch()
    assert x.shape == (64, 1, 32, 32) and y.shape == w.shape == (64, 32, 32)
    with_rare = int(((y == 1).flatten(1).any(dim=1)).sum())
    assert 20 < with_rare < 44  # about half the patches, by class balancing
    assert bool(((w > 0) == (y >= 0)).all())


def test_human_patch_fraction_centres_patches_on_the_strokes_among_pseudo_masks():
    derived = np.zeros((256, 256), np.int64)
    derived[100:140, 100:140] = 1  # a pseudo-mask labels every pixel
    human = np.full((256, 256), -1, np.int64)
    human[20, 20:30] = 0  # a person's stroke on 10 pixels
    human[230, 200:210] = 1
    target, weight = merge_targets(human, derived, derived_weight=0.5)
    sample = Sample(np.zeros((1, 256, 256), np.float32), target, weight)
    assert sorted(sample.human_centres) == [0, 1] and len(sample.human_centres[0]) == 10

    def batches_with_strokes(fraction: float) -> int:
        config = TrainConfig(
            patch_size=32,
            batch_size=64,
            augment=False,
            labelled_patch_fraction=1.0,
            human_patch_fraction=fraction,
        )
        _, _, w = PatchSampler([sample], config, seed=0).batch()
        return int((w == 1.0).flatten(1).any(dim=1).sum())

    assert batches_with_strokes(1.0) == 64  # each patch holds the stroke pixel it is centred on
    assert batches_with_strokes(0.0) < 8  # centred on any of 65536 labelled pixels: rarely a stroke
    assert 16 < batches_with_strokes(0.5) < 48


def test_images_labelled_only_by_people_or_only_by_derivation_have_no_human_centres():
    target = np.zeros((16, 16), np.int64)
    image = np.zeros((1, 16, 16), np.float32)
    assert Sample(image, target).human_centres == {}
    assert Sample(image, target, np.full((16, 16), 0.5, np.float32)).human_centres == {}
    with pytest.raises(ValueError, match="human_patch_fraction must be a fraction"):
        TrainConfig(human_patch_fraction=1.5)


def test_sampling_is_reproducible_for_a_seed():
    target = np.random.default_rng(1).integers(-1, 2, (64, 64))
    image = np.random.default_rng(2).normal(size=(2, 64, 64)).astype(np.float32)
    config = TrainConfig(patch_size=32, batch_size=4, in_channels=2)
    first = PatchSampler([Sample(image, target)], config, seed=7).batch()
    second = PatchSampler([Sample(image, target)], config, seed=7).batch()
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first, second, strict=True))


def test_imaging_augmentation_changes_the_pixels_of_a_patch_and_never_its_labels():
    target = np.random.default_rng(1).integers(-1, 2, (96, 96))
    image = np.random.default_rng(2).uniform(0, 1, size=(1, 96, 96)).astype(np.float32)
    config = TrainConfig(patch_size=32, batch_size=1)
    plain = PatchSampler([Sample(image, target)], config, seed=3).patch()
    varied = PatchSampler([Sample(image, target)], config.replace(imaging_augmentation=True), seed=3).patch()
    # The same crop, turn and flip: the same labels and weights, other pixel values.
    assert torch.equal(plain[1], varied[1]) and torch.equal(plain[2], varied[2])
    assert not torch.equal(plain[0], varied[0]) and bool(torch.isfinite(varied[0]).all())
    assert float((plain[0] - varied[0]).abs().mean()) < 0.5  # the same field, seen otherwise
    with pytest.raises(ValueError, match="imaging_augmentation"):
        TrainConfig(imaging_augmentation="yes")


def test_unlabelled_images_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="no labelled pixels"):
        PatchSampler([Sample(np.zeros((1, 8, 8), np.float32), np.full((8, 8), -1))], TrainConfig(), seed=0)


def test_patches_past_the_border_mark_it_outside_not_unlabelled():
    target = np.zeros((40, 40), np.int64)
    target[18:22, 18:22] = 1
    image = np.zeros((1, 40, 40), np.float32)
    config = TrainConfig(patch_size=32, batch_size=32, augment=False)
    _, y, w = PatchSampler([Sample(image, target)], config, seed=0).batch()
    assert bool((y == OUTSIDE).any()), "some 32-px patches of a 40-px image reach past its border"
    assert not bool((y == UNKNOWN).any()), "a dense mask has no unlabelled pixels"
    assert bool((w[y == OUTSIDE] == 0).all())


def test_covering_tiles_cover_each_image_once_labelled_or_not():
    first = Sample(np.arange(96 * 96, dtype=np.float32).reshape(1, 96, 96), np.full((96, 96), -1))
    second = Sample(-np.ones((1, 70, 200), np.float32), np.zeros((70, 200), np.int64))
    batches = list(covering_tiles([first, second], largest=256, limit=100, batch_size=8, seed=0))
    tiles = torch.cat(batches)
    assert [len(b) for b in batches] == [8, 4] and tiles.shape[1:] == (1, 64, 64)  # 70 px fits 64
    assert tiles[:4].flatten().unique().numel() == 96 * 96  # 2 x 2 tiles, the last ones shifted in
    assert (tiles[4:] == -1).all()  # 2 x 4 tiles of the second image, none padded
    subset = torch.cat(list(covering_tiles([first, second], largest=256, limit=6, batch_size=8, seed=0)))
    assert len(subset) == 6
