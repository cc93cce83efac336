"""Instant previews: a fast model's class map of the image being painted, about a second after a stroke.

When a person saves scribbles or a dense mask (labeling.signals.human_labels_saved, sent on
commit), the image gets a preview request: its request counter in Redis moves on and
`instant_preview` is queued on the default queue with the new number (training/features/
preview_requests.py). The actor (training/actors.py, `preview_job` here) fits the fast pixel
classifier (training/ml/forest.py) on the project's human label maps as they are now (the one rule,
labeling.selectors.human_label_map; a bounded sample of each image, of the current image and the
most recently labelled others), predicts the image at preview scale and publishes `preview.ready`.
A preview is a guess to paint by; the deep model's prediction replaces it in the annotator once a
run has scored the image.

Bursts coalesce: a message whose number is no longer the image's latest request does nothing, so
strokes saved while a preview is computed cost one more preview, of the latest labels. A request
that waited more than MAX_AGE_MS for a worker (behind a training run, or one of many during an
import) is dropped by Dramatiq's AgeLimit: nobody is waiting for it any more.

Only the latest preview of an image is kept. Its class map (a PNG label map at preview scale) is
written under a fresh name first; one atomic Redis update then records it, unless a newer preview
is recorded already; only then is the file it replaced deleted. A worker that dies in between
leaves at most an unreferenced file, never a record of a missing one. The record lives in Redis
beside the request counter (one hash per image, so the two cannot disagree): a preview is a cache
that the next stroke recomputes, and the actor writes nothing else, so a failure loses no label.

Worker processes keep the preview-scale features of the last few images and the sampled pixels
of every labelled layer version they have seen, so a stroke on the image being painted costs
one label replay, one sample, one fit and one prediction.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling import labelmaps, selectors
from labeling.models import HUMAN_MAP_KINDS, Annotation, Image
from training.features.preview_requests import preview_key
from training.ml import forest
from training.ml.data import normalize
from webapp import events, live
from webapp.jobs import redis_client

log = logging.getLogger(__name__)

CONFIG = forest.ForestConfig()
MAX_IMAGES = 12  # the current image and the 11 most recently labelled others
MAX_AGE_MS = 60_000
TIME_LIMIT_MS = 120_000
FEATURE_CACHE_BYTES = 192 * 2**20  # about 12 single-channel 512x512 feature maps
PIXEL_CACHE_ENTRIES = 512  # sampled pixels of a layer version: about 200 KB each


class NotEnoughLabels(ValueError):
    pass


@dataclass(frozen=True)
class Preview:
    classes: np.ndarray  # (h, w) uint16 class indices at preview scale
    labels: list[list[int]]  # [annotation id, version] of every layer it learnt from
    images: int  # labelled images it learnt from
    learnt: list[int]  # class indices it tells apart
    seconds: float


@dataclass(frozen=True)
class Stored:
    file: str
    seq: int
    meta: dict[str, Any]


# Requests ------------------------------------------------------------------------------------


def latest_preview(image_id: int) -> Stored | None:
    """The image's recorded preview, if it has one."""
    file, seq, meta = (
        value.decode() if isinstance(value, bytes) else value
        for value in redis_client().hmget(preview_key(image_id), ["file", "seq", "meta"])
    )
    if file is None or seq is None or meta is None:
        return None
    return Stored(file=file, seq=int(seq), meta=json.loads(meta))


def open_latest_preview(image_id: int) -> tuple[Stored, IO[bytes]] | None:
    """The recorded preview and its open file; None when there is none (or it was just replaced)."""
    stored = latest_preview(image_id)
    if stored is None:
        return None
    try:
        return stored, default_storage.open(stored.file, "rb")
    except FileNotFoundError:  # replaced and deleted since we read the record
        return None


# The job ------------------------------------------------------------------------------------


def preview_job(image_id: int, seq: int) -> None:
    """Preview of an image for request `seq`; nothing if a later request exists or the image is gone.

    Idempotent: a redelivered message is either stale or records nothing newer than itself.
    """
    if int(redis_client().hget(preview_key(image_id), "wanted") or 0) > seq:
        return  # a later stroke asked again: its message previews the newer labels
    image = selectors.live_image(image_id)
    if image is None:
        log.info("image %s is gone or archived; no preview", image_id)
        return
    try:
        preview = preview_make(image)
    except NotEnoughLabels as reason:
        _publish(image, events.PreviewSkipped(image=image.pk, seq=seq, detail=str(reason)))
        return
    except Exception as error:
        log.exception("the instant preview of image %s failed", image_id)
        failure = f"{type(error).__name__}: {error}"
        _publish(image, events.PreviewFailed(image=image.pk, seq=seq, error=failure))
        raise
    if preview_store(image, seq, preview):
        url = f"/api/images/{image.pk}/instant-preview.png?seq={seq}"
        _publish(image, events.PreviewReady(image=image.pk, seq=seq, url=url, **_summary(preview)))


def _summary(preview: Preview) -> dict[str, Any]:
    height, width = preview.classes.shape
    return {
        "labels": preview.labels,
        "images": preview.images,
        "classes": preview.learnt,
        "size": [height, width],
        "seconds": round(preview.seconds, 3),
    }


def _publish(image: Image, event: events.Event) -> None:
    live.publish(image.project_id, event)
    live.flush()


# Recording the latest preview ----------------------------------------------------------------

# Record (seq, file, meta) unless a preview of a later request is recorded; answer the file it
# replaces ("" for none), or nil when it was refused. One script, so two workers cannot interleave.
_RECORD = """
local seq = redis.call('HGET', KEYS[1], 'seq')
if seq and tonumber(seq) >= tonumber(ARGV[1]) then return false end
local old = redis.call('HGET', KEYS[1], 'file')
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'file', ARGV[2], 'meta', ARGV[3])
return old or ''
"""


def preview_store(image: Image, seq: int, preview: Preview) -> bool:
    """Write the class map under a fresh name, record it, then delete the one it replaced.

    False (and nothing kept) when a preview of a later request was recorded meanwhile.
    """
    name = default_storage.save(
        f"instant/image-{image.pk}-{uuid.uuid4().hex}.png", ContentFile(labelmaps.encode_map(preview.classes))
    )
    meta = json.dumps({**_summary(preview), "made_at": time.time()})
    try:
        replaced = redis_client().eval(_RECORD, 1, preview_key(image.pk), seq, name, meta)
    except BaseException:
        default_storage.delete(name)
        raise
    if replaced is None:
        default_storage.delete(name)
        return False
    if replaced:
        default_storage.delete(replaced.decode())
    return True


# Making a preview ----------------------------------------------------------------------------


def preview_make(image: Image, config: forest.ForestConfig = CONFIG) -> Preview:
    """Fit the fast model on the project's human labels now and predict `image` at preview scale.

    Learns from the images that have every channel of `image` (in its channel order). Raises
    NotEnoughLabels when fewer than two classes are labelled.
    """
    started = time.perf_counter()
    channels = selectors.channel_names([image.pk]).get(image.pk, [])
    labelled = _labelled_images(image, channels)
    pixels = [_pixels_of(other, layers, channels, config) for other, layers in labelled]
    learnt = sorted({int(value) for sample in pixels for value in np.unique(sample.y)})
    if len(learnt) < 2:
        raise NotEnoughLabels(_needs_two_classes(image, learnt))
    model = forest.fit_forest(pixels, config)
    current = labelled[0][0] if labelled and labelled[0][0].pk == image.pk else image
    prediction = forest.predict_forest(model, _features_of(current, channels, config))
    return Preview(
        classes=prediction.classes,
        labels=sorted([layer.pk, layer.version] for _, layers in labelled for layer in layers),
        images=len(labelled),
        learnt=learnt,
        seconds=time.perf_counter() - started,
    )


def _needs_two_classes(image: Image, learnt: list[int]) -> str:
    names = selectors.class_names(image.project)
    so_far = ", ".join(names.get(index, str(index)) for index in learnt) or "nothing"
    return f"The preview needs labels of two classes; so far: {so_far}. Paint another class too."


def _labelled_images(image: Image, channels: list[str]) -> list[tuple[Image, list[Annotation]]]:
    """The project's images with live human label layers and all of `channels`: `image` first,
    then the most recently labelled, at most MAX_IMAGES; each image's layers dense first."""
    by_image = selectors.human_layers_by_recency(image.project_id)
    order = sorted(by_image, key=lambda pk: pk != image.pk)  # stable: the rest stay by recency
    complete = selectors.images_with_channels(order, channels)
    usable = [pk for pk in order if pk in complete][:MAX_IMAGES]
    images = selectors.with_channel_sources(usable)
    return [(images[pk], sorted(by_image[pk], key=lambda a: HUMAN_MAP_KINDS.index(a.kind))) for pk in usable]


# Per-process caches: features of the last few images, sampled pixels of each layer version.
_features: OrderedDict[Hashable, np.ndarray] = OrderedDict()
_pixels: OrderedDict[Hashable, forest.Pixels] = OrderedDict()
_cache_lock = threading.Lock()


def _channel_key(image: Image, channels: list[str]) -> tuple[tuple[str, str | None, int], ...]:
    """Names the pixels: the channels' source files and pages (a new upload is a new image)."""
    by_name = selectors.channels_by_name(image)
    return tuple((name, by_name[name].source.file.name, by_name[name].page) for name in channels)


def _features_of(image: Image, channels: list[str], config: forest.ForestConfig) -> np.ndarray:
    key = (image.pk, _channel_key(image, channels), config)
    with _cache_lock:
        if key in _features:
            _features.move_to_end(key)
            return _features[key]
    by_name = selectors.channels_by_name(image)
    planes = np.stack([selectors.channel_plane(by_name[name]) for name in channels])
    # Each image by its own percentiles: cacheable per image (a preview's guess, not a model's).
    made = forest.preview_features(normalize(planes), config)
    with _cache_lock:
        _features[key] = made
        while len(_features) > 1 and sum(f.nbytes for f in _features.values()) > FEATURE_CACHE_BYTES:
            _features.popitem(last=False)
    return made


def _pixels_of(
    image: Image, layers: list[Annotation], channels: list[str], config: forest.ForestConfig
) -> forest.Pixels:
    versions = tuple((layer.pk, layer.version) for layer in layers)
    key = (image.pk, _channel_key(image, channels), versions, config)
    with _cache_lock:
        if key in _pixels:
            _pixels.move_to_end(key)
            return _pixels[key]
    label_map = selectors.human_label_map(image, versions=dict(versions))
    assert label_map is not None  # the image has human layers: it was listed for them
    factor = forest.preview_factor(image.height, image.width, config.max_side)
    sampled = forest.sample_pixels(
        _features_of(image, channels, config),
        forest.shrink_labels(label_map, factor),
        limit=config.samples_per_image,
        seed=config.seed + image.pk,
    )
    with _cache_lock:
        _pixels[key] = sampled
        while len(_pixels) > PIXEL_CACHE_ENTRIES:
            _pixels.popitem(last=False)
    return sampled
