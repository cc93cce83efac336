"""The fluorescence teacher: nucleus instances from a nuclear-stain channel, by classical means.

A nuclear stain (Hoechst, DAPI) makes nuclei bright on a dark background, so smoothing, a
threshold, hole filling, a size filter and a distance-transform watershed find them well enough
to train a network on the brightfield channel of the same field (Fishman et al., J. Microscopy,
doi 10.1111/jmi.13038). Those pseudo-masks are what `nucleus_instances` makes.

Intensities are measured in units of the smoothed plane's own background noise (median and MAD),
so the same parameters work on 8-bit, 12-bit-in-16 and float planes, on a clean stain and on a
noisy one whose nuclei stand out only once smoothed, and a field with no nuclei yields nothing: a
pixel must rise `min_contrast` noise sigmas above the background to count, whatever Otsu or the
local threshold says about pure noise. A threshold low enough for dim nuclei draws bright ones
too wide (their blurred rims clear it), so each nucleus is then cut back to the pixels that reach
`peak_fraction` of its own peak.

Pure numpy / scipy / scikit-image; no Django, no torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.filters import threshold_local, threshold_otsu
from skimage.segmentation import relabel_sequential, watershed

THRESHOLDS = ("otsu", "local")


@dataclass(frozen=True)
class TeacherParams:
    """The few knobs of the pipeline; the defaults were chosen on aisegcell's training fields.

    sigma: Gaussian smoothing in pixels before thresholding (0 = none).
    threshold: "otsu" (one global threshold) or "local" (mean of a block_size window + offset).
    block_size: odd window side in pixels for the local threshold.
    offset: added to the local threshold, in noise sigmas (positive = stricter).
    min_contrast: a pixel must be this many noise sigmas above the background to be a nucleus.
    peak_fraction: a nucleus keeps the pixels at least this fraction of its own peak above the
        background (0 = keep all that passed the thresholds).
    fill_holes: fill dark holes inside a nucleus (nucleoli, uneven stain).
    min_area / max_area: objects outside this range in pixels are dropped (max_area 0 = no limit).
    split: cut touching nuclei apart with a distance-transform watershed.
    min_distance: least distance in pixels between two nucleus centres when splitting.
    """

    sigma: float = 2.0
    threshold: str = "local"
    block_size: int = 51
    offset: float = 5.0
    min_contrast: float = 5.0
    peak_fraction: float = 0.6
    fill_holes: bool = True
    min_area: int = 30
    max_area: int = 0
    split: bool = True
    min_distance: int = 6

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TeacherParams:
        """Defaults for missing keys; unknown keys and values of the wrong type are refused."""
        if not isinstance(data, dict):
            raise ValueError("teacher parameters must be an object of name: value")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown teacher parameters {unknown}; known: {', '.join(fields)}")
        defaults = cls()
        values = {name: _coerce(name, value, getattr(defaults, name)) for name, value in data.items()}
        return cls(**values)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """The value in the type of the default, or a ValueError naming the parameter."""
    kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if kind is int:
        if float(value) != int(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return int(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _problems(params: TeacherParams) -> list[str]:
    problems = []
    if not 0 <= params.sigma <= 20:
        problems.append(f"sigma must be between 0 and 20 pixels, got {params.sigma}")
    if params.threshold not in THRESHOLDS:
        problems.append(f"threshold must be one of {', '.join(THRESHOLDS)}, got {params.threshold!r}")
    if params.block_size < 3 or params.block_size > 1001 or params.block_size % 2 == 0:
        problems.append(f"block_size must be an odd number from 3 to 1001, got {params.block_size}")
    if not -50 <= params.offset <= 50:
        problems.append(f"offset must be between -50 and 50 noise sigmas, got {params.offset}")
    if not 0 <= params.min_contrast <= 100:
        problems.append(f"min_contrast must be between 0 and 100 noise sigmas, got {params.min_contrast}")
    if not 0 <= params.peak_fraction < 1:
        problems.append(f"peak_fraction must be at least 0 and below 1, got {params.peak_fraction}")
    if params.min_area < 1:
        problems.append(f"min_area must be at least 1 pixel, got {params.min_area}")
    if params.max_area != 0 and params.max_area < params.min_area:
        problems.append(
            f"max_area ({params.max_area}) must be 0 (no limit) or at least min_area ({params.min_area})"
        )
    if not 1 <= params.min_distance <= 200:
        problems.append(f"min_distance must be between 1 and 200 pixels, got {params.min_distance}")
    return problems


def nucleus_instances(plane: np.ndarray, params: TeacherParams | None = None) -> np.ndarray:
    """Nucleus instance map of one fluorescence plane.

    Shape: plane (H, W) any integer or float dtype -> (H, W) int32, 0 = background, 1..N nuclei.
    """
    params = params or TeacherParams()
    plane = np.asarray(plane)
    if plane.ndim != 2:
        raise ValueError(f"nucleus_instances takes one (H, W) plane, got shape {plane.shape}; pick a channel")
    signal = contrast(plane, params.sigma)
    mask = _filled_and_sized(foreground(signal, params), params)
    if params.peak_fraction > 0:
        mask = _filled_and_sized(_near_peaks(signal, mask, params.peak_fraction), params)
    labels = _split(mask, params) if params.split else ndimage.label(mask)[0]
    labels = _filter_areas(labels, params)
    relabelled, _, _ = relabel_sequential(labels)
    return relabelled.astype(np.int32)


def contrast(plane: np.ndarray, sigma: float = 0.0) -> np.ndarray:
    """The plane smoothed by a Gaussian of `sigma` px, in noise sigmas above its background:
    (smoothed - median) / (1.4826 MAD), both measured on the smoothed plane.

    The noise floor is one intensity step for integer planes (a flat 8-bit background has a MAD
    of 0), a thousandth of the range for float ones; smoothing lowers it as it lowers white noise,
    by 2 sqrt(pi) sigma.

    Shape: (H, W) -> (H, W) float32.
    """
    values = plane.astype(np.float32)
    integer = np.issubdtype(plane.dtype, np.integer)
    floor = 1.0 if integer else max(1e-3 * float(np.ptp(values)), 1e-12)
    if sigma > 0:
        values = ndimage.gaussian_filter(values, sigma)
        floor /= max(1.0, 2 * np.sqrt(np.pi) * sigma)
    background = float(np.median(values))
    noise = 1.4826 * float(np.median(np.abs(values - background)))
    result: np.ndarray = (values - background) / max(noise, floor)
    return result


def foreground(signal: np.ndarray, params: TeacherParams) -> np.ndarray:
    """Pixels above the chosen threshold and `min_contrast` above the background.

    Shape: signal (H, W) float, in noise sigmas -> (H, W) bool.
    """
    floor = signal > params.min_contrast
    if not floor.any():
        return floor
    if params.threshold == "local":
        block = min(params.block_size, _largest_odd(min(signal.shape)))
        return floor & (signal > threshold_local(signal, block, offset=-params.offset))
    if float(signal.min()) == float(signal.max()):
        return floor
    mask: np.ndarray = floor & (signal > threshold_otsu(signal))
    return mask


def _near_peaks(signal: np.ndarray, mask: np.ndarray, fraction: float) -> np.ndarray:
    """The pixels of each connected object of `mask` that reach `fraction` of its peak signal."""
    objects, count = ndimage.label(mask)
    if count == 0:
        return mask
    peaks = np.zeros(count + 1, dtype=np.float32)
    peaks[1:] = ndimage.maximum(signal, objects, index=np.arange(1, count + 1))
    near: np.ndarray = mask & (signal >= fraction * peaks[objects])
    return near


def _filled_and_sized(mask: np.ndarray, params: TeacherParams) -> np.ndarray:
    if params.fill_holes:
        mask = ndimage.binary_fill_holes(mask)
    sized: np.ndarray = _filter_areas(ndimage.label(mask)[0], params) > 0
    return sized


def _largest_odd(size: int) -> int:
    return max(3, size if size % 2 else size - 1)


def _filter_areas(labels: np.ndarray, params: TeacherParams) -> np.ndarray:
    """Labels of the objects whose area lies in [min_area, max_area]; the others set to 0."""
    areas = np.bincount(labels.ravel())
    keep = areas >= params.min_area
    if params.max_area:
        keep &= areas <= params.max_area
    keep[0] = False
    result: np.ndarray = np.where(keep[labels], labels, 0)
    return result


def _split(mask: np.ndarray, params: TeacherParams) -> np.ndarray:
    """Touching nuclei cut apart: one seed per distance-transform peak, watershed from the seeds.

    A component without a peak (a thin or flat one) keeps one seed covering all of it.
    """
    components, count = ndimage.label(mask)
    if count == 0:
        return components
    distance = ndimage.distance_transform_edt(mask)
    smooth = ndimage.gaussian_filter(distance, 1.0)
    peaks = peak_local_max(smooth, min_distance=params.min_distance, labels=components, exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    unmarked = np.setdiff1d(np.arange(1, count + 1), components[tuple(peaks.T)])
    lookup = np.zeros(count + 1, dtype=np.int32)
    lookup[unmarked] = np.arange(len(peaks) + 1, len(peaks) + 1 + len(unmarked))
    markers = np.where(markers > 0, markers, np.where(np.isin(components, unmarked), lookup[components], 0))
    result: np.ndarray = watershed(-smooth, markers, mask=mask)
    return result
