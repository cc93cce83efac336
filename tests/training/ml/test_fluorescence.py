"""The fluorescence teacher's classical pipeline on generated two-channel fields."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from labeling.synthetic import synthetic_field
from training.ml.fluorescence import TeacherParams, nucleus_instances
from training.ml.metrics import object_scores


def object_f1(predicted: np.ndarray, true: np.ndarray) -> float:
    scores = object_scores(predicted, true.astype(np.int32))
    return float(scores["f1"])


def two_touching_nuclei(*, dtype: type = np.uint16, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Two discs of radius 12 whose centres are 20 px apart (they overlap), stained and noisy."""
    yy, xx = np.mgrid[0:96, 0:96]
    discs = [(yy - 48) ** 2 + (xx - cx) ** 2 <= 12**2 for cx in (38, 58)]
    brightness = ndimage.gaussian_filter((discs[0] | discs[1]).astype(np.float32), 1.5)
    plane = brightness * 2500 + 300 + np.random.default_rng(seed).normal(0, 40, size=brightness.shape)
    if dtype == np.uint8:
        plane = plane / 16
    return np.clip(plane, 0, np.iinfo(dtype).max).astype(dtype), discs


def test_it_recovers_the_known_nuclei_of_a_generated_field():
    field = synthetic_field(seed=3, height=256, width=256, nuclei=12, radius=(7, 13))
    found = nucleus_instances(field.fluorescence)
    assert object_f1(found, field.instances) >= 0.9
    # The brightfield channel of the same field is no stain: the teacher reads fluorescence only.
    assert found.dtype == np.int32 and found.shape == field.fluorescence.shape


def test_it_works_the_same_on_an_8_bit_plane():
    field = synthetic_field(seed=4, height=256, width=256, nuclei=10, radius=(7, 13))
    eight_bit = (field.fluorescence / 16).astype(np.uint8)
    assert object_f1(nucleus_instances(eight_bit), field.instances) >= 0.9


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8])
def test_touching_nuclei_are_split_in_two(dtype):
    plane, discs = two_touching_nuclei(dtype=dtype)
    found = nucleus_instances(plane, TeacherParams(threshold="otsu"))
    assert found.max() == 2
    # Each object sits on one disc: most of its pixels belong to that disc alone.
    for label in (1, 2):
        overlaps = [int((found == label)[disc].sum()) for disc in discs]
        assert max(overlaps) >= 0.8 * int((found == label).sum())
    assert nucleus_instances(plane, TeacherParams(threshold="otsu", split=False)).max() == 1


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8, np.float32])
def test_an_empty_field_gives_no_nuclei(dtype):
    rng = np.random.default_rng(1)
    noise = rng.normal(100, 3, size=(128, 128)).astype(dtype)
    for threshold in ("otsu", "local"):
        assert nucleus_instances(noise, TeacherParams(threshold=threshold)).max() == 0
    flat = np.full((64, 64), 7, dtype=dtype)
    assert nucleus_instances(flat).max() == 0


def test_nuclei_that_stand_out_only_once_smoothed_are_found():
    """A noisy stain on a bright background: each nucleus is 3 noise sigmas above it, pixel by
    pixel, under the default min_contrast of 5, but far above the noise of the smoothed plane."""
    yy, xx = np.mgrid[0:192, 0:192]
    centres = [(48, 48), (48, 144), (144, 48), (144, 144)]
    discs = [(yy - cy) ** 2 + (xx - cx) ** 2 <= 12**2 for cy, cx in centres]
    truth = np.zeros(yy.shape, dtype=np.int32)
    for label, disc in enumerate(discs, start=1):
        truth[disc] = label
    plane = 50 + 30 * (truth > 0) + np.random.default_rng(2).normal(0, 10, size=truth.shape)
    found = nucleus_instances(np.clip(plane, 0, 255).astype(np.uint8))
    assert object_f1(found, truth) == 1.0


def test_bright_nuclei_are_cut_back_to_their_outline_by_the_peak_fraction():
    """A bright, blurred nucleus clears a threshold set for dim ones far outside its edge; cut at
    a fraction of its own peak it keeps about its true outline."""
    yy, xx = np.mgrid[0:128, 0:128]
    disc = (yy - 64) ** 2 + (xx - 64) ** 2 <= 10**2
    blurred = ndimage.gaussian_filter(disc.astype(np.float32), 3.0)
    plane = 100 + 3000 * blurred + np.random.default_rng(3).normal(0, 5, size=disc.shape)
    plane = plane.astype(np.uint16)

    def iou(params: TeacherParams) -> float:
        found = nucleus_instances(plane, params) > 0
        return float((found & disc).sum() / (found | disc).sum())

    assert iou(TeacherParams(peak_fraction=0.0)) < 0.75
    assert iou(TeacherParams(peak_fraction=0.5)) >= 0.85


def test_the_size_filter_drops_small_and_large_objects():
    field = synthetic_field(seed=5, height=256, width=256, nuclei=12, radius=(5, 14))
    areas = np.bincount(nucleus_instances(field.fluorescence, TeacherParams(split=False)).ravel())[1:]
    cut = int(np.median(areas))
    kept = np.bincount(
        nucleus_instances(field.fluorescence, TeacherParams(split=False, min_area=cut)).ravel()
    )[1:]
    assert 0 < len(kept) < len(areas) and kept.min() >= cut
    capped = np.bincount(
        nucleus_instances(field.fluorescence, TeacherParams(split=False, max_area=cut)).ravel()
    )[1:]
    assert 0 < len(capped) < len(areas) and capped.max() <= cut


def test_parameters_round_trip_and_bad_ones_are_refused_with_their_name():
    params = TeacherParams(sigma=1.5, threshold="local", block_size=31, offset=2.0, min_area=10)
    assert TeacherParams.from_dict(params.to_dict()) == params
    assert TeacherParams.from_dict({}) == TeacherParams()
    assert TeacherParams.from_dict({"min_area": 12.0}).min_area == 12
    for bad, message in (
        ({"sigmaa": 1}, "unknown teacher parameters"),
        ({"sigma": -1}, "sigma"),
        ({"sigma": "wide"}, "sigma must be a number"),
        ({"threshold": "triangle"}, "threshold must be one of otsu, local"),
        ({"block_size": 50}, "block_size must be an odd number"),
        ({"min_area": 2.5}, "min_area must be a whole number"),
        ({"min_area": 100, "max_area": 50}, "max_area"),
        ({"fill_holes": "yes"}, "fill_holes must be true or false"),
        ({"min_distance": 0}, "min_distance"),
        ({"peak_fraction": 1}, "peak_fraction must be at least 0 and below 1"),
    ):
        with pytest.raises(ValueError, match=message):
            TeacherParams.from_dict(bad)


def test_it_refuses_a_stack_instead_of_a_plane():
    with pytest.raises(ValueError, match="pick a channel"):
        nucleus_instances(np.zeros((2, 32, 32), dtype=np.uint16))
