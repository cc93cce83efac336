"""Reads of labeling data. The training app reads labels only through these functions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from django.db.models import Count, Prefetch, QuerySet
from django.db.models.fields.files import FieldFile

from labeling import imageio, labelmaps
from labeling.models import (
    MAP_KINDS,
    Annotation,
    AnnotationRevision,
    Channel,
    Image,
    LabelClass,
    Project,
)


def projects_for(user: Any) -> QuerySet[Project]:
    """The live projects the user is a member of: the root of every access check."""
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user, archived_at__isnull=True)


def images_of(project: Project) -> QuerySet[Image]:
    return project.images.filter(archived_at__isnull=True)


def with_label_state(images: QuerySet[Image]) -> QuerySet[Image]:
    """Images with what the grid shows of each: its live label kinds and whether a model scored it,
    in two queries for the whole page rather than two per image."""
    live = Annotation.objects.filter(is_deleted=False).only("id", "image_id", "kind")
    annotations = Prefetch("annotations", queryset=live, to_attr="live_annotations")
    return images.prefetch_related(annotations).annotate(prediction_count=Count("predictions"))


def label_kinds(image: Image) -> list[str]:
    annotations = getattr(image, "live_annotations", None)
    if annotations is None:
        annotations = image.annotations.filter(is_deleted=False).only("kind")
    return sorted({annotation.kind for annotation in annotations})


def is_predicted(image: Image) -> bool:
    count = getattr(image, "prediction_count", None)
    return bool(count) if count is not None else image.predictions.exists()


def class_indices(project: Project) -> set[int]:
    return set(LabelClass.objects.filter(project=project).values_list("index", flat=True))


def read_file(field: FieldFile) -> bytes:
    with field.open("rb") as handle:
        return bytes(handle.read())


def channel_plane(channel: Channel) -> np.ndarray:
    """The original pixels of one channel (uint8 or uint16), read from the untouched upload."""
    planes = imageio.read_planes(
        read_file(channel.source.file),
        filename=channel.source.original_name,
        max_pixels=np.iinfo(np.int64).max,
    )
    return planes.arrays[channel.page]


# The decoded pyramids of recently viewed channels, newest last. A display rendition never changes
# once written, so its file name identifies its pyramid; decoding an 8192x8192 PNG takes a good
# fraction of a second, slicing and encoding one tile a few milliseconds.
PYRAMID_CACHE_BYTES = 384 * 2**20
_pyramids: OrderedDict[str, list[np.ndarray]] = OrderedDict()
_pyramids_lock = threading.Lock()
_building: dict[str, threading.Lock] = {}


def display_pyramid(channel: Channel) -> list[np.ndarray]:
    """The display tile pyramid of a channel (imageio.pyramid), kept in memory for the next tiles.

    Raises ValueError when the channel's display rendition is not made yet (a worker makes those
    of large images).
    """
    if not channel.display:
        raise ValueError("the display rendition of this channel is not made yet")
    key = display_key(channel)
    with _pyramids_lock:
        building = _building.setdefault(key, threading.Lock())
    # One request builds a pyramid; the tiles asked for at the same time wait for it rather than
    # decoding the same rendition again each (five at once took 7 s instead of 1.4 on 2 cores).
    with building:
        with _pyramids_lock:
            if key in _pyramids:
                _pyramids.move_to_end(key)
                return _pyramids[key]
        levels = imageio.pyramid(imageio.decode_display(read_file(channel.display)))
        with _pyramids_lock:
            _pyramids[key] = levels
            _building.pop(key, None)
            while len(_pyramids) > 1 and sum(_bytes(p) for p in _pyramids.values()) > PYRAMID_CACHE_BYTES:
                _pyramids.popitem(last=False)
    return levels


def display_key(channel: Channel) -> str:
    """Names one display rendition: its channel, file name and size (storage reuses file names
    when a test database starts over, never for a live rendition)."""
    return f"{channel.pk}:{channel.display.name}:{channel.display.size}"


def _bytes(levels: list[np.ndarray]) -> int:
    return sum(level.nbytes for level in levels)


def revision_at(annotation: Annotation, version: int) -> AnnotationRevision:
    revision = annotation.revisions.filter(version=version).first()
    if revision is None:
        raise ValueError(f"annotation {annotation.pk} has no version {version}")
    return revision


def label_map_at(annotation: Annotation, version: int | None = None) -> np.ndarray:
    """The label map of a scribble, dense or derived layer as it was at `version` (default: now).

    Starts from the latest revision at or before `version` that holds a whole map (an uploaded
    mask, a snapshot, or a deletion) and replays the strokes saved after it.
    """
    if annotation.kind not in MAP_KINDS:
        raise ValueError(f"a {annotation.kind} annotation has no label map")
    version = annotation.version if version is None else version
    image = annotation.image
    revisions = list(annotation.revisions.filter(version__lte=version).order_by("version"))
    start = 0
    for position, revision in enumerate(revisions):
        if revision.is_deleted or revision.mask or revision.snapshot:
            start = position
    label_map = labelmaps.empty_map(width=image.width, height=image.height)
    for position, revision in enumerate(revisions[start:]):
        if revision.is_deleted:  # only ever the first: the layer was empty from there
            continue
        if position == 0 and revision.snapshot:
            label_map = labelmaps.decode_png_map(read_file(revision.snapshot), what="snapshot")
            continue
        if revision.mask:
            label_map = labelmaps.decode_png_map(read_file(revision.mask), what="label map")
        labelmaps.rasterize_strokes(label_map, revision.data.get("strokes", []))
    return label_map


def instance_map_at(annotation: Annotation, version: int | None = None) -> np.ndarray | None:
    """The instance map that came with the layer's latest whole mask at or before `version`."""
    version = annotation.version if version is None else version
    base = (
        annotation.revisions.filter(version__lte=version)
        .exclude(mask="", is_deleted=False)
        .order_by("-version")
        .first()
    )
    if base is None or not base.instances:
        return None
    return labelmaps.decode_png_map(read_file(base.instances), what="instance map")


def label_snapshot(project: Project) -> list[tuple[int, int]]:
    """(annotation id, version) of every live layer: what a training run freezes."""
    rows = Annotation.objects.filter(
        image__project=project, image__archived_at__isnull=True, is_deleted=False
    ).values_list("id", "version")
    return [(int(pk), int(version)) for pk, version in rows]
