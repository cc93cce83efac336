"""Label layers: every save, deletion and restore appends a revision; nothing is overwritten.

A write carries the version it was based on; a layer that moved on since is a Conflict (409) with
the current version, so the client can merge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling import labelmaps, selectors, signals
from labeling.errors import Conflict, InvalidInput
from labeling.models import (
    CLASS_KINDS,
    MAP_KINDS,
    Annotation,
    AnnotationKind,
    AnnotationRevision,
    Image,
    LabelClass,
)
from labeling.services.review import REVIEWED_KINDS, label_save_effect, label_save_recorded
from labeling.tiletags import TileLimits, parse_tiles
from webapp import events, live

# A layer's whole map is written every this many revisions, or sooner when the strokes saved
# since the last whole map cost more than STROKES_REPLAY_MAX_PIXELS to replay, so reads stay cheap.
SNAPSHOT_EVERY = 25


@dataclass(frozen=True)
class LayerContent:
    """What one save carries, already validated."""

    data: dict[str, Any]
    mask: np.ndarray | None = None
    instances: np.ndarray | None = None


def annotation_save(
    *,
    image: Image,
    author: Any,
    kind: str,
    base_version: int,
    data: dict[str, Any],
    label_class: LabelClass | None = None,
    mask: bytes | None = None,
    instances: bytes | None = None,
) -> Annotation:
    """Append a revision to the image's layer of `kind`, creating the layer at base_version 0.

    The write carries the version it was based on; if the layer has moved on since (someone else
    saved), nothing is written and Conflict tells the current version, so the client can merge.
    """
    if kind not in AnnotationKind.values:
        raise InvalidInput(
            f"Unknown annotation kind {kind!r}; use one of {', '.join(AnnotationKind.values)}."
        )
    key = _layer_key(image, kind, label_class, data)
    content = _validate_content(image, kind, key, data, mask, instances)
    return _append_revision(
        image=image,
        author=author,
        kind=kind,
        key=key,
        label_class=label_class,
        base_version=base_version,
        content=content,
    )


def _layer_key(image: Image, kind: str, label_class: LabelClass | None, data: dict[str, Any]) -> str:
    if kind in CLASS_KINDS:
        if label_class is None or label_class.project_id != image.project_id:
            raise InvalidInput(f"A {kind} annotation needs label_class, a class of this project.")
        return str(label_class.pk)
    if label_class is not None:
        raise InvalidInput(f"A {kind} annotation takes no label_class; class indices are in its data.")
    if kind == AnnotationKind.DERIVED:
        provenance = data.get("provenance")
        if not isinstance(provenance, dict) or not isinstance(provenance.get("source"), str):
            raise InvalidInput(
                'A derived mask needs data.provenance with a "source" (for example '
                '{"source": "fluorescence-teacher", "channel": "fluorescence", "params": {...}}).'
            )
        return str(provenance["source"])[:100]
    return ""


def _validate_content(
    image: Image, kind: str, key: str, data: dict[str, Any], mask: bytes | None, instances: bytes | None
) -> LayerContent:
    if not isinstance(data, dict):
        raise InvalidInput("data must be a JSON object.")
    allowed = selectors.class_indices(image.project)
    if kind == AnnotationKind.TAG:
        if not isinstance(data.get("present"), bool) or set(data) != {"present"}:
            raise InvalidInput('A tag\'s data is {"present": true} or {"present": false}.')
        return LayerContent(data={"present": data["present"]})
    if kind == AnnotationKind.POINTS:
        return LayerContent(data={"points": _validate_points(data, image, allowed)})
    if kind == AnnotationKind.TILES:
        return LayerContent(data={"tiles": [tile.to_json() for tile in _validate_tiles(image, key, data)]})
    extra = set(data) - {"strokes", "provenance"}
    if extra:
        raise InvalidInput(f"Unknown fields in data: {sorted(extra)}.")
    strokes = labelmaps.validate_strokes(
        data.get("strokes", []),
        width=image.width,
        height=image.height,
        allowed=allowed,
        max_strokes=settings.STROKES_MAX_PER_SAVE,
        max_paint_pixels=settings.STROKES_MAX_PAINT_PIXELS,
    )
    label_map = None
    if mask is not None:
        label_map = labelmaps.decode_label_map(mask, width=image.width, height=image.height, allowed=allowed)
    instance_map = None
    if instances is not None:
        if kind != AnnotationKind.DENSE or label_map is None:
            raise InvalidInput("An instance map can only come with the mask of a dense annotation.")
        instance_map = labelmaps.decode_instance_map(instances, width=image.width, height=image.height)
    if label_map is None and not strokes:
        raise InvalidInput("Send strokes, a mask, or both.")
    clean: dict[str, Any] = {"strokes": strokes}
    if kind == AnnotationKind.DERIVED:
        clean["provenance"] = data["provenance"]
    return LayerContent(data=clean, mask=label_map, instances=instance_map)


def _validate_tiles(image: Image, key: str, data: dict[str, Any]) -> list[Any]:
    limits = TileLimits(
        min_size=settings.TILE_TAG_MIN_SIZE,
        max_size=settings.TILE_TAG_MAX_SIZE,
        max_per_image=settings.TILE_TAGS_MAX_PER_IMAGE,
    )
    return parse_tiles(
        data,
        image_width=image.width,
        image_height=image.height,
        limits=limits,
        elsewhere=selectors.tile_tag_count(image, except_key=key),
    )


def _validate_points(data: dict[str, Any], image: Image, allowed: set[int]) -> list[list[float]]:
    points = data.get("points")
    if not isinstance(points, list) or set(data) != {"points"}:
        raise InvalidInput('Points data is {"points": [[x, y, class_index], ...]}.')
    clean = []
    for point in points:
        if not (
            isinstance(point, list) and len(point) == 3 and all(isinstance(v, (int, float)) for v in point)
        ):
            raise InvalidInput("Each point is [x, y, class_index].")
        x, y, index = point
        if not (0 <= x < image.width and 0 <= y < image.height):
            raise InvalidInput(f"Point ({x}, {y}) lies outside the image.")
        if int(index) != index or int(index) not in allowed:
            raise InvalidInput(f"Class index {index} does not exist in this project.")
        clean.append([float(x), float(y), int(index)])
    return clean


@transaction.atomic
def _append_revision(
    *,
    image: Image,
    author: Any,
    kind: str,
    key: str,
    label_class: LabelClass | None,
    base_version: int,
    content: LayerContent | None,
    restored_from: int | None = None,
) -> Annotation:
    """The one place a layer moves forward. `content=None` records a deletion."""
    now = timezone.now()
    head = Annotation.objects.select_for_update().filter(image=image, kind=kind, key=key).first()
    if head is None:
        if base_version != 0:
            raise Conflict("This layer does not exist yet; create it with base_version 0.", current_version=0)
        try:
            with transaction.atomic():
                head = Annotation.objects.create(
                    image=image,
                    kind=kind,
                    key=key,
                    label_class=label_class,
                    created_by=author,
                    updated_by=author,
                    updated_at=now,
                )
        except IntegrityError:
            raise Conflict(
                "Someone created this layer at the same time; reload it.", current_version=None
            ) from None
    elif head.version != base_version:
        raise Conflict(
            f"This layer is at version {head.version}, not {base_version}: someone saved it "
            "since you loaded it. Reload it and apply your change again.",
            current_version=head.version,
        )
    # A person's labels: the image's review status may move, or refuse the save.
    status_after = label_save_effect(image=image, author=author) if kind in REVIEWED_KINDS else None
    version = head.version + 1
    revision = AnnotationRevision(annotation=head, version=version, author=author)
    if content is None:
        revision.is_deleted = True
    else:
        revision.data = dict(content.data)
        if restored_from is not None:
            revision.data["restored_from"] = restored_from
        _attach_maps(revision, head, content)
    revision.save()
    head.version = version
    head.is_deleted = content is None
    head.updated_by = author
    head.updated_at = now
    head.save(update_fields=["version", "is_deleted", "updated_by", "updated_at"])
    if kind in MAP_KINDS and content is not None and _snapshot_due(head):
        snapshot = labelmaps.encode_map(selectors.label_map_at(head, version))
        revision.snapshot.save(f"{head.pk}-v{version}-snapshot.png", ContentFile(snapshot), save=True)
    live.publish_on_commit(
        image.project_id,
        events.LabelsChanged(
            image=image.pk,
            annotation=head.pk,
            kind=kind,
            key=key,
            version=version,
            deleted=content is None,
            user=author.username,
        ),
    )
    if status_after is not None:
        label_save_recorded(image=image, author=author, target=status_after)
    if kind in (AnnotationKind.SCRIBBLE, AnnotationKind.DENSE):  # a person's labels: a new preview
        signals.send_human_labels_saved_on_commit(
            image_id=image.pk, project_id=image.project_id, annotation_id=head.pk, kind=kind, version=version
        )
    return head


def _snapshot_due(head: Annotation) -> bool:
    if head.version % SNAPSHOT_EVERY == 0:
        return True
    return selectors.replay_cost(head) > settings.STROKES_REPLAY_MAX_PIXELS


def _attach_maps(revision: AnnotationRevision, head: Annotation, content: LayerContent) -> None:
    stem = f"{head.pk}-v{revision.version}"
    if content.mask is not None:
        revision.mask.save(f"{stem}.png", ContentFile(labelmaps.encode_map(content.mask)), save=False)
    if content.instances is not None:
        revision.instances.save(
            f"{stem}-instances.png", ContentFile(labelmaps.encode_map(content.instances)), save=False
        )


def dense_mask_replace(
    *,
    image: Image,
    author: Any,
    base_version: int,
    mask: np.ndarray,
    instances: np.ndarray | None,
    provenance: dict[str, Any],
) -> Annotation:
    """Make a whole label map made elsewhere (a model's prediction) the image's dense mask, as a new
    revision by `author` that records where the map came from; every earlier version stays
    restorable. A stale `base_version` is a Conflict, so the client can ask before replacing.

    Shape: mask, instances (H, W) of the image's size; mask values are class indices.
    """
    if mask.shape != (image.height, image.width):
        raise InvalidInput(
            f"The map is {mask.shape[1]}x{mask.shape[0]}; the image is {image.width}x{image.height}."
        )
    unknown = sorted(set(np.unique(mask).tolist()) - selectors.class_indices(image.project) - {0})
    if unknown:
        raise InvalidInput(f"The map has class indices {unknown} that this project no longer has.")
    if instances is not None and int(instances.max(initial=0)) > np.iinfo(np.uint16).max:
        instances = None  # more objects than a 16-bit instance map holds: the classes alone
    content = LayerContent(
        data={"strokes": [], "provenance": provenance},
        mask=mask.astype(np.uint16),
        instances=None if instances is None else instances.astype(np.uint16),
    )
    return _append_revision(
        image=image,
        author=author,
        kind=AnnotationKind.DENSE,
        key="",
        label_class=None,
        base_version=base_version,
        content=content,
    )


def annotation_delete(*, annotation: Annotation, author: Any, base_version: int) -> Annotation:
    """Record that the layer is deleted; every earlier version stays restorable."""
    if annotation.is_deleted:
        raise Conflict("This layer is already deleted.", current_version=annotation.version)
    return _append_to_existing(annotation, author=author, base_version=base_version, content=None)


def annotation_restore(*, annotation: Annotation, author: Any, version: int, base_version: int) -> Annotation:
    """Make the layer what it was at `version`, as a new revision (history only grows)."""
    if not 1 <= version <= annotation.version:
        raise InvalidInput(f"Version {version} does not exist; this layer has 1 to {annotation.version}.")
    old = selectors.revision_at(annotation, version)
    content: LayerContent | None
    if annotation.kind in MAP_KINDS:
        deleted = selectors.label_map_at(annotation, version) if not old.is_deleted else None
        data: dict[str, Any] = {"strokes": []}
        if annotation.kind == AnnotationKind.DERIVED:
            data["provenance"] = _provenance_at(annotation, version)
        content = (
            None
            if deleted is None
            else LayerContent(
                data=data, mask=deleted, instances=selectors.instance_map_at(annotation, version)
            )
        )
    else:
        content = (
            None
            if old.is_deleted
            else LayerContent(data={k: v for k, v in old.data.items() if k != "restored_from"})
        )
    return _append_to_existing(
        annotation, author=author, base_version=base_version, content=content, restored_from=version
    )


def _append_to_existing(
    annotation: Annotation,
    *,
    author: Any,
    base_version: int,
    content: LayerContent | None,
    restored_from: int | None = None,
) -> Annotation:
    return _append_revision(
        image=annotation.image,
        author=author,
        kind=annotation.kind,
        key=annotation.key,
        label_class=annotation.label_class,
        base_version=base_version,
        content=content,
        restored_from=restored_from,
    )


def _provenance_at(annotation: Annotation, version: int) -> Any:
    revision = (
        annotation.revisions.filter(version__lte=version, data__has_key="provenance")
        .order_by("-version")
        .first()
    )
    return revision.data["provenance"] if revision else {"source": annotation.key}
