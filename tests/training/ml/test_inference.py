"""The tiler: same answer as predicting the whole image at once, in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from training.ml.inference import entropy, predict, predict_probabilities, ramp, tile_starts

CPU = torch.device("cpu")


def small_net(seed: int = 0) -> nn.Module:
    """Receptive field 7x7: it fits inside the tiler's discarded margin (overlap // 4 = 8)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 3, 3, padding=1),
    ).eval()


def test_ramps_sum_to_one_across_an_overlap():
    tile, overlap = 64, 32
    left = ramp(tile, overlap, first=True, last=False)
    right = ramp(tile, overlap, first=False, last=True)
    assert np.allclose(left[tile - overlap :] + right[:overlap], 1.0)
    assert left[0] == 1.0 and right[-1] == 1.0  # image borders keep full weight
    assert (left[tile - overlap // 4 :] == 0).all()  # the padded edge of a tile is discarded


def test_tile_starts_cover_the_image_and_end_flush():
    assert tile_starts(100, 64, 48) == [0, 36]
    assert tile_starts(64, 64, 48) == [0]
    assert tile_starts(1000, 256, 192)[-1] == 1000 - 256


@pytest.mark.parametrize("shape", [(200, 300), (64, 64), (40, 90)])
def test_tiled_equals_whole_image_prediction(shape):
    model = small_net()
    image = np.random.default_rng(0).normal(size=(1, *shape)).astype(np.float32)
    tiled = predict_probabilities(model, image, device=CPU, tile=64, overlap=32, batch_size=3)
    with torch.no_grad():
        whole = model(torch.from_numpy(image)[None]).softmax(dim=1)[0].numpy()
    assert tiled.shape == (3, *shape)
    # An image smaller than a tile is reflect-padded: equal away from the padded sides.
    rows = slice(None) if shape[0] >= 64 else slice(0, shape[0] - 8)
    cols = slice(None) if shape[1] >= 64 else slice(0, shape[1] - 8)
    assert np.allclose(tiled[:, rows, cols], whole[:, rows, cols], atol=1e-5)


def test_memory_stays_proportional_to_the_image():
    model = nn.Conv2d(1, 2, 1).eval()
    image = np.zeros((1, 2048, 2048), dtype=np.float32)
    tracemalloc.start()
    predict_probabilities(model, image, device=CPU, tile=256, overlap=32, batch_size=4)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    image_bytes = image.nbytes
    # probabilities (2 planes) + blending weights + one batch of tiles: about 3-4 image sizes.
    assert peak < 5 * image_bytes, f"peak {peak / 1e6:.0f} MB for a {image_bytes / 1e6:.0f} MB image"


def test_entropy_and_uncertainty():
    sure = np.stack([np.ones((4, 4)), np.zeros((4, 4))]).astype(np.float32)
    unsure = np.full((2, 4, 4), 0.5, dtype=np.float32)
    assert entropy(sure).max() < 1e-4
    assert np.allclose(entropy(unsure), 1.0)
    prediction = predict(
        nn.Conv2d(1, 2, 1).eval(), np.zeros((1, 32, 32), np.float32), device=CPU, tile=32, overlap=0
    )
    assert prediction.classes.shape == (32, 32) and 0.0 <= prediction.uncertainty <= 1.0


def test_augmented_prediction_does_not_depend_on_the_image_orientation():
    # A kernel that looks only upwards: plain predictions of a mirrored (transposed) image differ
    # from the mirrored predictions; the mean over all 8 views is the same however it is turned.
    torch.manual_seed(0)
    model = nn.Conv2d(1, 2, 3, padding=1).eval()
    with torch.no_grad():
        model.weight.zero_()
        model.weight[0, 0, 0, 1] = 4.0
    image = np.random.default_rng(1).normal(size=(1, 70, 96)).astype(np.float32)
    turned = np.ascontiguousarray(np.rot90(image, 1, axes=(1, 2))[:, ::-1])

    def undo(probabilities: np.ndarray) -> np.ndarray:
        return np.rot90(probabilities[:, ::-1], -1, axes=(1, 2))

    plain = predict_probabilities(model, image, device=CPU, tile=64, overlap=32)
    plain_turned = predict_probabilities(model, turned, device=CPU, tile=64, overlap=32)
    assert not np.allclose(undo(plain_turned), plain, atol=1e-3)
    augmented = predict(model, image, device=CPU, tile=64, overlap=32, augment=True)
    augmented_turned = predict_probabilities(model, turned, device=CPU, tile=64, overlap=32, augment=True)
    assert augmented.probabilities.shape == (2, 70, 96)
    assert np.allclose(augmented.probabilities.sum(axis=0), 1.0, atol=1e-5)
    assert np.allclose(undo(augmented_turned), augmented.probabilities, atol=1e-5)


def test_augmented_prediction_of_an_orientation_free_model_is_the_plain_one():
    model = nn.Conv2d(1, 2, 1).eval()
    image = np.random.default_rng(2).normal(size=(1, 50, 80)).astype(np.float32)
    plain = predict_probabilities(model, image, device=CPU, tile=32, overlap=16)
    augmented = predict_probabilities(model, image, device=CPU, tile=32, overlap=16, augment=True)
    assert np.allclose(augmented, plain, atol=1e-6)
