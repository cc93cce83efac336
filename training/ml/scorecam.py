"""Image-level tags -> Score-CAM pseudo-masks (ScoreCAM-U-Net, step one).

A small "class present / absent" classifier is trained on tagged tiles; Score-CAM (Wang et al.
2020) then says where in a positive tile the class is, and thresholding turns that map into a
pseudo-mask in the learning core's target convention (-1 unknown, 0 background, 1 object), which
the segmentation network trains on like any derived label.

The classifier is a segmentation-models-pytorch encoder (the same names as models.py, never
downloaded weights) cut at `depth` stages, global max pooling and one linear unit. Max pooling
fits the tag's meaning ("present anywhere in the tile") and keeps the evidence local. Fewer
stages keep the activation maps finer (stride 2**depth): nuclei of 25 px are lost at stride 32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from torch import nn

from training.ml.config import ENCODERS
from training.ml.data import UNKNOWN
from training.ml.trainer import BaseTrainer, Callbacks, LoopConfig, cosine_factor, seed_everything

BACKGROUND, OBJECT = 0, 1


@dataclass(frozen=True)
class ClassifierConfig:
    """How to train the tag classifier. `tile_size`: every training tile is padded to this."""

    in_channels: int = 1
    encoder: str = "resnet18"
    depth: int = 3
    tile_size: int = 64
    batch_size: int = 32
    steps: int = 300
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    augment: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder {self.encoder!r} is not one of {', '.join(ENCODERS)}")
        if not 1 <= self.depth <= 5:
            raise ValueError(f"depth {self.depth} must be 1..5 encoder stages")
        if self.tile_size % 2**self.depth:
            raise ValueError(f"tile_size {self.tile_size} must be a multiple of {2**self.depth} (2**depth)")
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("steps must be positive and batch_size at least 2 (one present, one absent)")

    def megapixels(self) -> float:
        """The tile pixels the classifier trains on, in millions: steps x batch x tile²."""
        return self.steps * self.batch_size * self.tile_size**2 / 1e6


@dataclass
class TaggedTile:
    """A normalised (C, h, w) float32 tile with h, w <= tile_size, and whether the class is in it."""

    image: np.ndarray
    present: bool


class TagClassifier(nn.Module):
    """Encoder -> global max pool -> one logit for "the class is present"."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.stride = 2**config.depth
        self.encoder = smp.encoders.get_encoder(
            config.encoder, in_channels=config.in_channels, depth=config.depth, weights=None
        )
        self.head = nn.Linear(self.encoder.out_channels[-1], 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: (B, C, H, W) -> (B, K, H / stride, W / stride), the maps Score-CAM uses."""
        features: torch.Tensor = self.encoder(x)[-1]
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: (B, C, H, W) -> (B,) logits."""
        pooled = self.features(x).amax(dim=(-2, -1))
        logits: torch.Tensor = self.head(pooled)[:, 0]
        return logits


# Training ----------------------------------------------------------------------------------


def train_classifier(
    tiles: list[TaggedTile],
    config: ClassifierConfig,
    *,
    device: torch.device,
    callbacks: Callbacks | None = None,
) -> TagClassifier:
    """Fit the classifier on balanced batches (half present, half absent), augmented, seeded.

    `callbacks.on_step` gets a StepEvent per step; `callbacks.should_cancel` is checked before
    every step and raises TrainingCancelled.
    """
    positives = [t for t in tiles if t.present]
    negatives = [t for t in tiles if not t.present]
    if not positives or not negatives:
        raise ValueError(
            f"the classifier needs tiles tagged present and absent; got {len(positives)} present and "
            f"{len(negatives)} absent: tag some images where the class is missing"
        )
    seed_everything(config.seed)
    model = TagClassifier(config)
    ClassifierTrainer(config, positives, negatives, model, device=device, callbacks=callbacks).run()
    return model.eval()


ClassifierBatch = tuple[torch.Tensor, torch.Tensor]  # (B, C, T, T) tiles, (B,) 1.0 present / 0.0 absent


class ClassifierTrainer(BaseTrainer[ClassifierBatch]):
    """The base loop on balanced tile batches: binary cross-entropy, a cosine schedule without
    warm-up, one epoch."""

    cancelled_message = "classifier cancelled at step {step}"

    def __init__(
        self,
        config: ClassifierConfig,
        positives: list[TaggedTile],
        negatives: list[TaggedTile],
        model: TagClassifier,
        *,
        device: torch.device,
        callbacks: Callbacks | None = None,
    ) -> None:
        loop = LoopConfig(
            steps=config.steps,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
        )
        super().__init__(model, loop, device=device, callbacks=callbacks)
        self.config = config
        self.positives = positives
        self.negatives = negatives
        self.rng = np.random.default_rng(config.seed)

    def lr_factor(self, step: int) -> float:
        return cosine_factor(step, self.loop_config.steps)

    def next_batch(self) -> ClassifierBatch:
        half = self.config.batch_size // 2
        chosen = _draw(self.positives, half, self.rng) + _draw(
            self.negatives, self.config.batch_size - half, self.rng
        )
        x = torch.stack([_prepare(t.image, self.config, self.rng) for t in chosen]).to(self.device)
        y = torch.tensor([float(t.present) for t in chosen], device=self.device)
        return x, y

    def compute_loss(self, batch: ClassifierBatch) -> torch.Tensor:
        x, y = batch
        return F.binary_cross_entropy_with_logits(self.model(x), y)


def _draw(tiles: list[TaggedTile], count: int, rng: np.random.Generator) -> list[TaggedTile]:
    return [tiles[int(i)] for i in rng.integers(len(tiles), size=count)]


def _prepare(image: np.ndarray, config: ClassifierConfig, rng: np.random.Generator) -> torch.Tensor:
    """Pad a tile to tile_size (mirrored, so no artificial edges) and augment it.

    Shape: (C, h, w) -> (C, tile_size, tile_size) float32.
    """
    size = config.tile_size
    _, height, width = image.shape
    if height > size or width > size:
        raise ValueError(f"a tile of {height}x{width} is larger than tile_size {size}; cut it into tiles")
    x = torch.from_numpy(_pad_to(image, size, size))
    if not config.augment:
        return x
    x = torch.rot90(x, int(rng.integers(4)), dims=(-2, -1))
    if rng.random() < 0.5:
        x = torch.flip(x, dims=(-1,))
    channels = x.shape[0]
    gain = torch.from_numpy(rng.uniform(0.8, 1.2, size=(channels, 1, 1)).astype(np.float32))
    bias = torch.from_numpy(rng.uniform(-0.1, 0.1, size=(channels, 1, 1)).astype(np.float32))
    return x * gain + bias


def _pad_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    _, h, w = image.shape
    if (h, w) == (height, width):
        return np.ascontiguousarray(image, dtype=np.float32)
    padded = np.pad(image, ((0, 0), (0, height - h), (0, width - w)), mode="symmetric")
    return np.ascontiguousarray(padded, dtype=np.float32)


# Score-CAM ---------------------------------------------------------------------------------


@torch.no_grad()
def score_cam(
    model: TagClassifier,
    x: torch.Tensor,
    *,
    batch_size: int = 32,
    max_maps: int | None = None,
    scaled: bool = True,
) -> tuple[torch.Tensor, float]:
    """Score-CAM of one input, and the classifier's probability that the class is present.

    Each activation map of the last stage is upsampled to the input size and scaled to [0, 1];
    the input masked with it is scored, and the increase of the class probability over that of
    an all-zero baseline weights the map. The map is ReLU(sum of weighted maps) scaled to a
    maximum of 1 (all zeros where no map raises the score); with `scaled=False` it is left in
    its own units (summed probability increases), comparable between inputs. `max_maps` keeps
    only the maps with the largest mean activation, for speed.

    Shape: x (C, H, W) with H, W multiples of model.stride -> cam (H, W), in [0, 1] when `scaled`.
    """
    model.eval()
    x = x[None]
    probability = float(torch.sigmoid(model(x))[0])
    maps = model.features(x)[0]
    if max_maps is not None and max_maps < maps.shape[0]:
        maps = maps[maps.mean(dim=(-2, -1)).topk(max_maps).indices]
    maps = F.interpolate(maps[None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0]
    low = maps.amin(dim=(-2, -1), keepdim=True)
    span = maps.amax(dim=(-2, -1), keepdim=True) - low
    useful = span.flatten() > 1e-6
    maps = (maps[useful] - low[useful]) / span[useful]
    baseline = torch.sigmoid(model(torch.zeros_like(x)))[0]
    weights = torch.cat(
        [torch.sigmoid(model(x * chunk[:, None])) - baseline for chunk in maps.split(batch_size)]
    )
    cam = torch.relu((weights[:, None, None] * maps).sum(dim=0)) if len(maps) else x[0, 0] * 0
    if not scaled:
        return cam, probability
    peak = float(cam.max()) if cam.numel() else 0.0
    return (cam / peak if peak > 0 else cam * 0), probability


# How a whole image's Score-CAM map is put on [0, 1]:
# - "window": each window's map scaled to its own peak, times the classifier's probability for that
#   window (the default). In a dense field every window holds objects, so every window gets a peak.
# - "image": the windows' unscaled maps (summed probability increases) side by side, the whole map
#   divided by its peak, so a window's values keep their size against the image's other windows.
CAM_SCALES = ("window", "image")


def cam_map(
    model: TagClassifier,
    image: np.ndarray,
    *,
    device: torch.device,
    tile: int = 128,
    max_maps: int | None = None,
    needed: np.ndarray | None = None,
) -> np.ndarray:
    """Score-CAM over a whole image, window by window (`tile` pixels, the last ones shifted in),
    on the "window" scale (CAM_SCALES): the one the app's pseudo-masks are thresholded on.

    `needed` (H, W) bool says which pixels' values matter (say, those no "absent" tag covers): a
    window without one is not scored and stays 0. A window's values depend on that window alone
    on this scale, so the needed pixels get the same values as without it.

    Shape: (C, H, W) float32 -> (H, W) float32 in [0, 1].
    """
    return cam_maps(
        model, image, device=device, tile=tile, max_maps=max_maps, scales=("window",), needed=needed
    )["window"]


def cam_maps(
    model: TagClassifier,
    image: np.ndarray,
    *,
    device: torch.device,
    tile: int = 128,
    max_maps: int | None = None,
    scales: tuple[str, ...] = CAM_SCALES,
    needed: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """cam_map's map in each of `scales`, from one pass of Score-CAM (the costly part), and,
    under "raw", the unscaled map the "image" scale divides by its peak (for scales over a run).
    Windows with no `needed` pixel are skipped (cam_map); the "image" scale's peak would change
    with them, so it refuses `needed`.

    Shape: (C, H, W) float32 -> {scale: (H, W) float32}.
    """
    unknown = set(scales) - set(CAM_SCALES)
    if unknown:
        raise ValueError(f"CAM scale {sorted(unknown)} is not one of {', '.join(CAM_SCALES)}")
    if needed is not None and "image" in scales:
        raise ValueError("the image scale needs every window's map: leave out `needed`")
    if needed is not None and needed.shape != image.shape[1:]:
        raise ValueError(f"needed has shape {needed.shape}, the image {image.shape[1:]}")
    model = model.to(device).eval()
    _, height, width = image.shape
    stride = model.stride
    window_map = np.zeros((height, width), dtype=np.float32)
    raw = np.zeros((height, width), dtype=np.float32)
    for top in _starts(height, tile):
        for left in _starts(width, tile):
            window = image[:, top : top + tile, left : left + tile]
            h, w = window.shape[1:]
            if needed is not None and not needed[top : top + h, left : left + w].any():
                continue
            padded = _pad_to(window, -(-h // stride) * stride, -(-w // stride) * stride)
            cam_t, probability = score_cam(
                model, torch.from_numpy(padded).to(device), max_maps=max_maps, scaled=False
            )
            peak = float(cam_t.max()) if cam_t.numel() else 0.0  # over the padding too, as score_cam's
            cam = cam_t[:h, :w].cpu().numpy()
            scaled = cam / peak * probability if peak > 0 else cam * 0
            for out, values in ((window_map, scaled), (raw, cam)):
                region = out[top : top + h, left : left + w]
                np.maximum(region, values, out=region)
    maps = {"raw": raw}
    if "window" in scales:
        maps["window"] = window_map
    if "image" in scales:
        peak = float(raw.max())
        maps["image"] = raw / peak if peak > 0 else raw
    return maps


def cut(x: np.ndarray, tile: int) -> list[np.ndarray]:
    """An image as tiles of at most `tile` pixels (the last ones shifted in); itself if it fits.

    Shape: (C, H, W) -> [(C, h, w)] with h, w <= tile.
    """
    _, height, width = x.shape
    return [
        x[:, top : top + tile, left : left + tile]
        for top in _starts(height, tile)
        for left in _starts(width, tile)
    ]


def _starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, tile))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


# Pseudo-masks ------------------------------------------------------------------------------

# Default thresholds. Stride-8 maps are blobs wider than the objects: only their cores are labelled
# object, and the band between is left unknown for the segmentation loss's pairwise term to settle
# on the image's edges. CAM_HIGH was chosen on a validation split of bbbc039's training images
# (bench/README.md: 0.62 / 0.74 / 0.86 / 0.79 pixel F1 at 0.5 / 0.7 / 0.85 / 0.95).
CAM_LOW = 0.2
CAM_HIGH = 0.85

# Training settings a segmentation network on these pseudo-masks needs beyond TrainConfig's
# defaults. They label only the objects' cores (2.5% of bbbc039's pixels) against half the image as
# background, an imbalance class-centred patches alone do not make up for: without class weights the
# network misses dim objects (bbbc039 weak tags 0.805 pixel F1, recall 0.71; with them 0.836,
# recall 0.82; bench/README.md).
PSEUDO_MASK_TRAINING = {"weight_classes": True}


def pseudo_mask(
    cam: np.ndarray, *, present: bool, low: float = CAM_LOW, high: float = CAM_HIGH
) -> np.ndarray:
    """Threshold a Score-CAM map into a target: >= high object, <= low background, else unknown.

    An image tagged absent is background everywhere, whatever its map says.

    Shape: (H, W) float in [0, 1] -> (H, W) int64 with -1 unknown, 0 background, 1 object.
    """
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"thresholds need 0 <= low < high <= 1, got low={low}, high={high}")
    if not present:
        return np.full(cam.shape, BACKGROUND, dtype=np.int64)
    target = np.full(cam.shape, UNKNOWN, dtype=np.int64)
    target[cam >= high] = OBJECT
    target[cam <= low] = BACKGROUND
    return target
