"""Reads of labeling data. The training app reads labels only through these functions
(tests/test_architecture.py checks that it queries none of labeling's tables itself)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import numpy as np
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from labeling import imageio, labelmaps
from labeling.models import (
    HUMAN_MAP_KINDS,
    MAP_KINDS,
    NOT_TRAINED_ON,
    Annotation,
    AnnotationKind,
    AnnotationRevision,
    Channel,
    Image,
    ImageStatus,
    ImageWork,
    Invitation,
    LabelClass,
    Project,
    SourceFile,
    Split,
)
from labeling.tiletags import TileTag, tiles_of


def projects_for(user: Any) -> QuerySet[Project]:
    """The live projects the user is a member of: the root of every access check."""
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user, archived_at__isnull=True)


def invitations_for(user: Any) -> QuerySet[Invitation]:
    """The invitations addressed to the user's name that can still be answered (not lapsed, to a
    live project): the root of the invitee's access, so anyone else gets 404."""
    if not getattr(user, "is_authenticated", False):
        return Invitation.objects.none()
    return pending_invitations(
        Invitation.objects.filter(username=user.get_username(), project__archived_at__isnull=True)
    )


def pending_invitations(invitations: QuerySet[Invitation]) -> QuerySet[Invitation]:
    """Those not lapsed, oldest first, with what their answers show."""
    return (
        invitations.filter(expires_at__gt=timezone.now())
        .select_related("project", "invited_by")
        .order_by("created_at", "pk")
    )


def images_of(project: Project) -> QuerySet[Image]:
    return project.images.filter(archived_at__isnull=True)


def learnable_images(project: Project) -> QuerySet[Image]:
    """The project's live images a run may learn from: all but the inference-only set."""
    return images_of(project).exclude(split=Split.INFERENCE)


def with_label_state(images: QuerySet[Image]) -> QuerySet[Image]:
    """Images with what the grid shows of each: its live label kinds, whether a model scored it, the
    object counts of its newest prediction, its review status and assignee, in a few queries for
    the whole page rather than per image."""
    live = Annotation.objects.filter(is_deleted=False).only("id", "image_id", "kind")
    annotations = Prefetch("annotations", queryset=live, to_attr="live_annotations")
    newest = _newest_predictions().filter(image=OuterRef("pk"))
    return (
        images.prefetch_related(annotations)
        .select_related("work__assignee")
        .annotate(
            prediction_count=Count("predictions"),
            newest_counts=Subquery(newest.values("counts")[:1]),
            newest_counts_by=Subquery(newest.values("model_version_id")[:1]),
        )
    )


def _newest_predictions() -> QuerySet[Any]:
    """Predictions, the newest model version's first. The model is reached through the relation:
    training's models import this app, so importing them here would close a circle."""
    predictions = Image._meta.get_field("predictions").related_model._default_manager
    return predictions.order_by("-model_version__created_at", "-model_version_id")


def object_counts(image: Image) -> dict[str, Any] | None:
    """{"model_version", "counts": {class index: objects}} of the image's newest prediction."""
    if hasattr(image, "newest_counts_by"):  # annotated by with_label_state
        version, counts = image.newest_counts_by, getattr(image, "newest_counts", None)
    else:
        row = _newest_predictions().filter(image=image).values_list("model_version_id", "counts").first()
        version, counts = row if row is not None else (None, None)
    if version is None:
        return None
    return {"model_version": version, "counts": counts or {}}


def label_kinds(image: Image) -> list[str]:
    annotations = getattr(image, "live_annotations", None)
    if annotations is None:
        annotations = image.annotations.filter(is_deleted=False).only("kind")
    return sorted({annotation.kind for annotation in annotations})


def is_predicted(image: Image) -> bool:
    count = getattr(image, "prediction_count", None)
    return bool(count) if count is not None else image.predictions.exists()


# The team workflow: review status and assignee of images -------------------------------------


def work_of(image: Image) -> ImageWork | None:
    """The image's place in review, or None while it is to do and unassigned (no row yet)."""
    try:
        return image.work
    except ObjectDoesNotExist:
        return None


def image_status(image: Image) -> str:
    work = work_of(image)
    return work.status if work is not None else ImageStatus.TODO


def image_assignee(image: Image) -> str | None:
    work = work_of(image)
    return work.assignee.username if work is not None and work.assignee is not None else None


@dataclass(frozen=True)
class WorkRow:
    status: str
    assignee: int | None  # user id


def work_by_image(project: Project) -> dict[int, WorkRow]:
    """image id -> its status and assignee, for the project's images that have a work row (the
    others are to do and unassigned)."""
    rows = ImageWork.objects.filter(image__project=project).values_list("image_id", "status", "assignee_id")
    return {image: WorkRow(status, assignee) for image, status, assignee in rows}


def filter_by_work(
    images: QuerySet[Image], *, status: str | None = None, assignee: Any = None, unassigned: bool = False
) -> QuerySet[Image]:
    """Images in this review status, and/or assigned to this user (or to nobody)."""
    if status == ImageStatus.TODO:
        images = images.filter(Q(work__isnull=True) | Q(work__status=ImageStatus.TODO))
    elif status:
        images = images.filter(work__status=status)
    if unassigned:
        images = images.filter(Q(work__isnull=True) | Q(work__assignee__isnull=True))
    elif assignee is not None:
        images = images.filter(work__assignee=assignee)
    return images


def unclaimed_images(project: Project, kinds: Iterable[str], *, status: str) -> list[int]:
    """Ids, by name, of the project's live images in `status` with no assignee and no live layer of
    these kinds: what "share the unlabelled images" deals out."""
    images = filter_by_work(images_of(project), status=status, unassigned=True)
    labelled = Annotation.objects.filter(image__project=project, is_deleted=False, kind__in=list(kinds))
    images = images.exclude(pk__in=labelled.values("image_id"))
    return list(images.order_by("name", "pk").values_list("pk", flat=True))


def human_layer_versions(image: Image, kinds: Iterable[str]) -> list[list[int]]:
    """[annotation id, version] of the image's live layers of these kinds: what an approval freezes."""
    rows = Annotation.objects.filter(image=image, is_deleted=False, kind__in=list(kinds)).order_by("pk")
    return [[pk, version] for pk, version in rows.values_list("pk", "version")]


def live_project(project_id: int) -> Project | None:
    return Project.objects.filter(pk=project_id, archived_at__isnull=True).first()


def live_projects_named(name: str) -> list[Project]:
    """The live projects of this name (names need not be unique), oldest first."""
    return list(Project.objects.filter(name=name, archived_at__isnull=True).order_by("pk"))


def class_names(project: Project) -> dict[int, str]:
    """class index -> name."""
    return dict(LabelClass.objects.filter(project=project).values_list("index", "name"))


def class_indices(project: Project) -> set[int]:
    return set(LabelClass.objects.filter(project=project).values_list("index", flat=True))


def read_file(field: FieldFile) -> bytes:
    with field.open("rb") as handle:
        return bytes(handle.read())


# Stored files are read again as they were read when they came, with no budget: they were
# checked then.
_UNBOUNDED = np.iinfo(np.int64).max
_PAGES: dict[str, imageio.PagesAre] = {pages: pages for pages in imageio.PAGES_CHOICES}


def source_planes(source: SourceFile, pages: Sequence[int]) -> list[np.ndarray]:
    """Planes `pages` of an uploaded file (uint8, uint16 or float32), from the untouched upload;
    only those planes are read and decoded where the format allows (TIFF pages, ND2 frames, CZI
    planes), not the whole file."""
    try:
        path: str | None = source.file.path  # a file on disk (FileSystemStorage)
    except NotImplementedError:  # object storage: read through the storage's file
        path = None
    with (
        source.file.open("rb") as handle,
        imageio.open_image(
            cast(BinaryIO, handle),  # a FieldFile reads, seeks and tells like one
            filename=source.original_name,
            pages=_PAGES.get(source.pages),
            use_metadata=not source.pages,
            max_pixels=_UNBOUNDED,
            max_planes=_UNBOUNDED,
            path=path,
        ) as reader,
    ):
        return [reader.read(page) for page in pages]


def channel_plane(channel: Channel) -> np.ndarray:
    """The original pixels of one channel."""
    return source_planes(channel.source, [channel.page])[0]


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
            label_map = labelmaps.decode_png_map(
                read_file(revision.snapshot), what="snapshot", size=(image.width, image.height)
            )
            continue
        if revision.mask:
            label_map = labelmaps.decode_png_map(
                read_file(revision.mask), what="label map", size=(image.width, image.height)
            )
        labelmaps.rasterize_strokes(label_map, revision.data.get("strokes", []))
    return label_map


def replay_cost(annotation: Annotation) -> int:
    """Pixels a read of the layer's current map visits replaying the strokes saved since its
    last whole map (labelmaps.paint_cost)."""
    image = annotation.image
    cost = 0
    for revision in annotation.revisions.order_by("-version").iterator():
        if revision.is_deleted or revision.snapshot:  # the map as it was after this revision
            break
        strokes = revision.data.get("strokes", [])
        cost += labelmaps.paint_cost(strokes, width=image.width, height=image.height)
        if revision.mask:  # replay starts from this revision's mask
            break
    return cost


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


def dense_maps(image: Image) -> tuple[Annotation, np.ndarray, np.ndarray | None] | None:
    """The image's live dense layer, its label map and, while no stroke has changed the map since it
    was saved whole (imported, accepted or restored), the instance map saved with it."""
    head = image.annotations.filter(kind=AnnotationKind.DENSE, is_deleted=False).first()
    if head is None:
        return None
    base = head.revisions.exclude(mask="").order_by("-version").first()
    instances = None
    if base is not None and base.version == head.version and base.instances:
        instances = labelmaps.decode_png_map(read_file(base.instances), what="instance map")
    return head, label_map_at(head), instances


def human_label_map(image: Image, *, versions: Mapping[int, int] | None = None) -> np.ndarray | None:
    """A person's label of each pixel of `image` (labelmaps.human_label_map: scribbles win over the
    dense mask; 0 unlabelled), from its live scribble and dense layers, or with `versions`
    (annotation id -> version) from exactly those of its layers at those versions. None when it
    has neither layer."""
    layers = image.annotations.filter(kind__in=HUMAN_MAP_KINDS)
    wanted = {"is_deleted": False} if versions is None else {"pk__in": list(versions)}
    layers = layers.filter(**wanted)
    maps = {
        layer.kind: label_map_at(layer, None if versions is None else versions[layer.pk]) for layer in layers
    }
    return labelmaps.human_label_map(maps.get(AnnotationKind.DENSE), maps.get(AnnotationKind.SCRIBBLE))


# Derived layers ------------------------------------------------------------------------------


def derived_layer(image: Image, source: str) -> Annotation | None:
    """The image's derived layer from this source (its provenance "source" is the layer's key)."""
    return Annotation.objects.filter(image=image, kind=AnnotationKind.DERIVED, key=source).first()


def derived_layers(project: Project, source: str) -> dict[int, Annotation]:
    """image id -> its derived layer from this source, for the project's images that have one."""
    heads = Annotation.objects.filter(image__project=project, kind=AnnotationKind.DERIVED, key=source)
    return {head.image_id: head for head in heads}


def derived_layer_state(head: Annotation) -> str:
    """Whether a generator may still write a derived layer: the one rule for every generator.

    "generated" while its latest revision is a generator's own whole map; "deleted" once a person
    deleted it (a generator leaves it deleted: that is how an image is left out); "touched" once
    a person painted on it or restored an older version: theirs stands.
    """
    if head.is_deleted:
        return "deleted"
    latest = head.revisions.order_by("-version").first()
    if latest is None or latest.data.get("strokes") or "restored_from" in latest.data or not latest.mask:
        return "touched"
    return "generated"


def latest_provenance(head: Annotation) -> Any:
    """The provenance of the layer's latest revision (what made it, with which settings)."""
    latest = head.revisions.order_by("-version").first()
    return latest.data.get("provenance") if latest is not None else None


# What training reads -------------------------------------------------------------------------


def image_planes(image: Image, channels: Sequence[str]) -> np.ndarray:
    """The original (C, H, W) pixels of an image, channels in the order asked for; each source
    file is opened once."""
    by_name = {channel.name: channel for channel in image.channels.select_related("source")}
    missing = [name for name in channels if name not in by_name]
    if missing:
        raise ValueError(f"image {image.pk} ({image.name}) has no channel {', '.join(missing)}")
    wanted = [by_name[name] for name in channels]
    planes: dict[int, np.ndarray] = {}
    for source_id in dict.fromkeys(channel.source_id for channel in wanted):
        of_source = [channel for channel in wanted if channel.source_id == source_id]
        read = source_planes(of_source[0].source, [channel.page for channel in of_source])
        planes.update({channel.pk: plane for channel, plane in zip(of_source, read, strict=True)})
    return np.stack([planes[channel.pk] for channel in wanted])


def stack_planes(image: Image) -> list[dict[str, int]]:
    """The live planes of the image's stack, {"id", "z", "t"} by t then z ([] for a 2-D image)."""
    if image.stack_id is None:
        return []
    planes = Image.objects.filter(stack_id=image.stack_id, archived_at__isnull=True).order_by("t", "z")
    return [{"id": pk, "z": z, "t": t} for pk, z, t in planes.values_list("pk", "z", "t")]


def all_planes(image: Image) -> dict[str, np.ndarray]:
    """Every channel's original (H, W) pixels by name, in channel order (each source file read once)."""
    channels = list(image.channels.select_related("source").order_by("index"))
    by_source: dict[int, list[Channel]] = {}
    for channel in channels:
        by_source.setdefault(channel.source_id, []).append(channel)
    planes: dict[str, np.ndarray] = {}
    for group in by_source.values():
        read = source_planes(group[0].source, [channel.page for channel in group])
        planes.update((channel.name, plane) for channel, plane in zip(group, read, strict=True))
    return {channel.name: planes[channel.name] for channel in channels}


def pixel_size(image: Image) -> tuple[float, float] | None:
    """Micrometres per pixel along (x, y); one known side stands for both (pixels are square in
    nearly every microscope); None when neither is known."""
    x = image.pixel_size_x or image.pixel_size_y
    y = image.pixel_size_y or image.pixel_size_x
    return None if x is None or y is None else (float(x), float(y))


def countable_classes(project: Project) -> tuple[int, ...]:
    """The indices of the project's countable classes, ascending."""
    rows = LabelClass.objects.filter(project=project, countable=True).order_by("index")
    return tuple(rows.values_list("index", flat=True))


def channels_by_name(image: Image) -> dict[str, Channel]:
    """The image's channels by name (with their source files when prefetched, as
    `with_channel_sources` does)."""
    return {channel.name: channel for channel in image.channels.all()}


def with_channel_sources(image_ids: Iterable[int]) -> dict[int, Image]:
    """These images by id, their channels and source files fetched with them."""
    sources = Prefetch("channels", queryset=Channel.objects.select_related("source"))
    return Image.objects.filter(pk__in=list(image_ids)).prefetch_related(sources).in_bulk()


def images_with_channels(image_ids: Iterable[int], names: Sequence[str]) -> set[int]:
    """Which of these images have every one of the named channels."""
    ids = list(image_ids)
    found = set(
        Channel.objects.filter(image_id__in=ids, name__in=list(names))
        .values_list("image_id", "name")
        .order_by()
    )
    return {pk for pk in ids if all((pk, name) in found for name in names)}


def human_layers_by_recency(project_id: int) -> dict[int, list[Annotation]]:
    """image id -> its live scribble and dense layers, images most recently labelled first."""
    layers = Annotation.objects.filter(
        image__project_id=project_id,
        image__archived_at__isnull=True,
        kind__in=HUMAN_MAP_KINDS,
        is_deleted=False,
    ).order_by("-updated_at", "pk")
    by_image: dict[int, list[Annotation]] = {}
    for layer in layers:
        by_image.setdefault(layer.image_id, []).append(layer)
    return by_image


def channel_named(image: Image, name: str) -> Channel | None:
    return Channel.objects.filter(image=image, name=name).select_related("source").first()


def channel_names(image_ids: Iterable[int]) -> dict[int, list[str]]:
    """image id -> its channels' names in channel order."""
    names: dict[int, list[str]] = {}
    rows = Channel.objects.filter(image_id__in=list(image_ids)).order_by("index")
    for image_id, name in rows.values_list("image_id", "name"):
        names.setdefault(image_id, []).append(name)
    return names


def images_with_channel(images: QuerySet[Image], name: str) -> QuerySet[Image]:
    return images.filter(channels__name=name).distinct()


def live_images(image_ids: Iterable[int]) -> list[Image]:
    """The images of these ids that are not archived, by name."""
    found = Image.objects.filter(pk__in=list(image_ids), archived_at__isnull=True)
    return list(found.order_by("name", "pk"))


def live_image(image_id: int) -> Image | None:
    return Image.objects.filter(pk=image_id, archived_at__isnull=True).select_related("project").first()


def label_class(project: Project, class_id: object) -> LabelClass | None:
    """The project's class of this id; None for anything else (another project's, not an id)."""
    if not isinstance(class_id, int) or isinstance(class_id, bool):
        return None
    return LabelClass.objects.filter(project=project, pk=class_id).first()


def label_class_at(project: Project, index: int) -> LabelClass | None:
    return LabelClass.objects.filter(project=project, index=index).first()


def first_other_class(project: Project, than: LabelClass) -> LabelClass:
    """The project's lowest-index class other than `than` (every project has two or more)."""
    return LabelClass.objects.filter(project=project).exclude(pk=than.pk).order_by("index")[0]


# Label snapshots: (annotation id, version) pairs a run freezes ---------------------------------


@dataclass(frozen=True)
class LayerRow:
    annotation: int
    version: int
    kind: str
    key: str
    image: int
    split: str


def live_layers(project: Project, kinds: Iterable[str]) -> list[LayerRow]:
    """The project's live (not deleted) layers of these kinds on live images."""
    rows = Annotation.objects.filter(
        image__project=project, image__archived_at__isnull=True, is_deleted=False, kind__in=list(kinds)
    ).values_list("id", "version", "kind", "key", "image_id", "image__split")
    return [LayerRow(*row) for row in rows]


def approved_layers(project: Project, kinds: Iterable[str]) -> list[LayerRow]:
    """The layers of these kinds as they were approved (labeling/workflow.py), on the project's
    live images whose review status is approved: each at the version its approval froze, even
    where the layer has moved on since."""
    frozen: dict[int, int] = {}
    works = ImageWork.objects.filter(
        image__project=project, image__archived_at__isnull=True, status=ImageStatus.APPROVED
    )
    for layers in works.values_list("approved_layers", flat=True):
        frozen.update({int(pk): int(version) for pk, version in layers})
    rows = Annotation.objects.filter(pk__in=list(frozen), kind__in=list(kinds)).values_list(
        "id", "kind", "key", "image_id", "image__split"
    )
    return [LayerRow(pk, frozen[pk], kind, key, image, split) for pk, kind, key, image, split in rows]


def layer_images(annotation_ids: Iterable[int]) -> list[tuple[int, str]]:
    """(image id, split) of each of these layers, by image name then id (one row per layer)."""
    rows = Annotation.objects.filter(pk__in=list(annotation_ids)).order_by("image__name", "image_id")
    return list(rows.values_list("image_id", "image__split"))


def layers_on(annotation_ids: Iterable[int], image_ids: Iterable[int]) -> set[int]:
    """Which of these layers lie on these images."""
    found = Annotation.objects.filter(pk__in=list(annotation_ids), image_id__in=list(image_ids))
    return set(found.values_list("pk", flat=True))


def frozen_layers(annotation_ids: Iterable[int], *, live_images_only: bool = False) -> list[Annotation]:
    """These layers with their images, by key then id (the order layers of one image stack in)."""
    found = Annotation.objects.filter(pk__in=list(annotation_ids)).select_related("image")
    if live_images_only:
        found = found.filter(image__archived_at__isnull=True)
    return list(found.order_by("key", "pk"))


def live_tags(project: Project, label_class: LabelClass, kind: str = AnnotationKind.TAG) -> list[Annotation]:
    """The live tags (or, with kind "tiles", tile tags) of a class on the project's live images
    that train (not validation, not inference-only)."""
    return list(
        Annotation.objects.filter(
            image__project=project,
            image__archived_at__isnull=True,
            kind=kind,
            key=str(label_class.pk),
            is_deleted=False,
        ).exclude(image__split__in=NOT_TRAINED_ON)
    )


def tagged_megapixels(project: Project, label_class: LabelClass) -> float:
    """The pixels, in millions, of the training images with a live tag or tile tags of a class:
    what a tags run of that class maps with Score-CAM."""
    images = Image.objects.filter(
        pk__in=Annotation.objects.filter(
            image__project=project,
            image__archived_at__isnull=True,
            kind__in=[AnnotationKind.TAG, AnnotationKind.TILES],
            key=str(label_class.pk),
            is_deleted=False,
        )
        .exclude(image__split__in=NOT_TRAINED_ON)
        .values("image_id")
    )
    return sum(width * height for width, height in images.values_list("width", "height")) / 1e6


def tag_present(tag: Annotation, version: int) -> bool:
    """Whether a tag said "present" at `version`."""
    return bool(revision_at(tag, version).data.get("present"))


def tag_present_at(annotation_id: int, version: int) -> bool:
    """Whether the tag of this id said "present" at `version`."""
    revision = AnnotationRevision.objects.filter(annotation_id=annotation_id, version=version).first()
    return bool(revision is not None and revision.data.get("present"))


def tile_tags_at(annotation_id: int, version: int) -> list[TileTag]:
    """The tiles the tile-tag layer of this id held at `version` (none if it was deleted then)."""
    revision = AnnotationRevision.objects.filter(annotation_id=annotation_id, version=version).first()
    if revision is None or revision.is_deleted:
        return []
    return tiles_of(revision.data)


def tile_tag_count(image: Image, *, except_key: str = "") -> int:
    """How many tile tags the image holds now, over its classes' layers but the one of `except_key`."""
    heads = image.annotations.filter(kind=AnnotationKind.TILES, is_deleted=False).exclude(key=except_key)
    return sum(len(tile_tags_at(head.pk, head.version)) for head in heads)


# Exports -------------------------------------------------------------------------------------


def dense_provenance(head: Annotation) -> Any:
    """The provenance of the whole map a dense layer's current state starts from (an accepted
    prediction's names its model version), or None when a person painted or uploaded it."""
    base = (
        head.revisions.filter(version__lte=head.version, is_deleted=False)
        .exclude(mask="")
        .order_by("-version")
        .first()
    )
    return base.data.get("provenance") if base is not None else None


def has_live_layer(image: Image, kind: str) -> bool:
    return image.annotations.filter(kind=kind, is_deleted=False).exists()


def label_classes(project: Project) -> list[LabelClass]:
    """The project's classes by index."""
    return list(LabelClass.objects.filter(project=project).order_by("index"))


def projects_named(name: str) -> list[Project]:
    """The live projects of this name (names need not be unique), oldest first."""
    return list(Project.objects.filter(name=name, archived_at__isnull=True).order_by("pk"))
