"""Operations on projects, members, classes, images and annotations.

Each function is one operation, typed and keyword-only; it validates, changes the database in
one transaction, and raises InvalidInput (400) or Conflict (409) without storing anything.
Access checks happen before these are called (labeling/access.py).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling import imageio, labelmaps, selectors, signals
from labeling.errors import Conflict, InvalidInput
from labeling.models import (
    MAP_KINDS,
    Annotation,
    AnnotationKind,
    AnnotationRevision,
    Channel,
    Image,
    LabelClass,
    Membership,
    Project,
    Role,
    SourceFile,
    Split,
)
from webapp import live

# A layer's whole map is written every this many revisions, so reads replay few strokes.
SNAPSHOT_EVERY = 25
DEFAULT_CLASS_COLORS = ["#808080", "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4"]
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
CHANNEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


# Projects and members ----------------------------------------------------------------------


@transaction.atomic
def project_create(*, name: str, owner: Any, description: str = "") -> Project:
    """A new project owned by `owner`, with the background class (index 1) already in it."""
    name = name.strip()
    if not name:
        raise InvalidInput("A project needs a name.")
    project = Project.objects.create(name=name, description=description, created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    LabelClass.objects.create(project=project, name="background", color="#808080", index=1)
    return project


def project_update(*, project: Project, name: str | None = None, description: str | None = None) -> Project:
    fields = []
    if name is not None:
        if not name.strip():
            raise InvalidInput("A project needs a name.")
        project.name = name.strip()
        fields.append("name")
    if description is not None:
        project.description = description
        fields.append("description")
    if fields:
        project.save(update_fields=fields)
    return project


def project_archive(*, project: Project) -> None:
    """Hide a project; its images and labels stay in the database and can be brought back."""
    project.archived_at = timezone.now()
    project.save(update_fields=["archived_at"])


@transaction.atomic
def membership_set(*, project: Project, user: Any, role: str) -> Membership:
    """Add `user` to the project with `role`, or change the role they have."""
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        return Membership.objects.create(project=project, user=user, role=role)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(project, leaving=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    if membership.role == Role.OWNER:
        _keep_an_owner(membership.project, leaving=membership)
    membership.delete()


def _keep_an_owner(project: Project, *, leaving: Membership) -> None:
    others = project.memberships.filter(role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.exists():
        raise InvalidInput("A project must keep at least one owner; make someone else owner first.")


# Label classes -----------------------------------------------------------------------------


def _check_color(color: str) -> str:
    if not COLOR_RE.match(color):
        raise InvalidInput(f"Colour {color!r} must look like #1f77b4.")
    return color.lower()


@transaction.atomic
def label_class_create(
    *, project: Project, name: str, color: str | None = None, countable: bool = False
) -> LabelClass:
    name = name.strip()
    if not name:
        raise InvalidInput("A class needs a name.")
    if project.classes.filter(name=name).exists():
        raise InvalidInput(f"This project already has a class named {name!r}.")
    index = max(project.classes.values_list("index", flat=True), default=0) + 1
    if index > 255:
        raise InvalidInput("A project can have at most 255 classes.")
    if color is None:
        color = DEFAULT_CLASS_COLORS[index % len(DEFAULT_CLASS_COLORS)]
    try:
        with transaction.atomic():
            return LabelClass.objects.create(
                project=project, name=name, color=_check_color(color), index=index, countable=countable
            )
    except IntegrityError:
        raise Conflict("Another class was added at the same time; try again.") from None


def label_class_update(
    *,
    label_class: LabelClass,
    name: str | None = None,
    color: str | None = None,
    countable: bool | None = None,
) -> LabelClass:
    """Rename, recolour or (un)mark as countable; the index, which label maps use, never changes."""
    fields = []
    if name is not None:
        name = name.strip()
        clash = label_class.project.classes.filter(name=name).exclude(pk=label_class.pk)
        if not name or clash.exists():
            raise InvalidInput(f"Class name {name!r} is empty or already used in this project.")
        label_class.name = name
        fields.append("name")
    if color is not None:
        label_class.color = _check_color(color)
        fields.append("color")
    if countable is not None:
        label_class.countable = countable
        fields.append("countable")
    if fields:
        label_class.save(update_fields=fields)
    return label_class


@transaction.atomic
def label_class_delete(*, label_class: LabelClass) -> None:
    """Only a class that no label can refer to yet may go: labels are never rewritten."""
    if Annotation.objects.filter(image__project=label_class.project_id).exists():
        raise Conflict("This project already has labels, which may use this class; rename it instead.")
    label_class.delete()


# Images ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def check_file_name(name: str) -> str:
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidInput(f"File name {name!r} must be a plain name without path separators.")
    if any(ord(char) < 32 for char in name) or len(name) > 255:
        raise InvalidInput(f"File name {name!r} has control characters or is too long.")
    return name


def _channel_names(names: list[str]) -> list[str]:
    for name in names:
        if not CHANNEL_NAME_RE.match(name):
            raise InvalidInput(f"Channel name {name!r} must be 1-64 letters, digits, '_', '.', '+' or '-'.")
    if len(set(names)) != len(names):
        raise InvalidInput(f"Channel names {names} must be different from each other.")
    return names


def image_ingest(
    *,
    project: Project,
    uploader: Any,
    uploads: list[Upload],
    channel_names: list[str] | None = None,
    name: str | None = None,
    split: str = Split.UNASSIGNED,
) -> list[Image]:
    """Store uploaded files as images, all or nothing.

    With `channel_names` as long as `uploads` (and more than one file), the files are the named
    channels of one image (for example brightfield.png + fluorescence.png). Otherwise each file
    is one image, whose pages or colour planes become its channels, named by `channel_names` when
    the counts match.
    """
    if not uploads:
        raise InvalidInput("Send at least one file.")
    if split not in Split.values:
        raise InvalidInput(f"Unknown split {split!r}; use one of {', '.join(Split.values)}.")
    total = sum(len(upload.data) for upload in uploads)
    if total > settings.MAX_UPLOAD_BYTES:
        raise InvalidInput(f"The upload is {total} bytes; at most {settings.MAX_UPLOAD_BYTES}.")
    for upload in uploads:
        check_file_name(upload.name)
    if name is not None:
        check_file_name(name)
    decoded = [
        imageio.read_planes(u.data, filename=u.name, max_pixels=settings.MAX_IMAGE_PIXELS) for u in uploads
    ]
    if channel_names and len(uploads) > 1 and len(channel_names) == len(uploads):
        groups = [_paired_group(uploads, decoded, _channel_names(channel_names), name)]
    else:
        if name and len(uploads) > 1:
            raise InvalidInput("A name can only be given for a single image.")
        groups = [
            _file_group(upload, planes, channel_names, name)
            for upload, planes in zip(uploads, decoded, strict=True)
        ]
    names = [group.name for group in groups]
    if len(set(names)) != len(names):
        raise InvalidInput(f"Two files would make images of the same name: {names}.")
    clash = selectors.images_of(project).filter(name__in=names).values_list("name", flat=True)
    if clash:
        raise Conflict(f"This project already has images named {sorted(clash)}.")
    return _store_groups(project=project, uploader=uploader, groups=groups, split=split)


@dataclass
class _ChannelIn:
    name: str
    upload: Upload
    page: int
    plane: np.ndarray


@dataclass
class _ImageGroup:
    name: str
    channels: list[_ChannelIn]


def _paired_group(
    uploads: list[Upload], decoded: list[imageio.Planes], names: list[str], name: str | None
) -> _ImageGroup:
    for upload, planes in zip(uploads, decoded, strict=True):
        if len(planes.arrays) != 1:
            raise InvalidInput(
                f"{upload.name} has {len(planes.arrays)} channels; when files are paired as "
                "channels, each file must hold one."
            )
    shapes = {planes.arrays[0].shape for planes in decoded}
    if len(shapes) != 1:
        raise InvalidInput("Paired channel files must all have the same width and height.")
    channels = [
        _ChannelIn(channel, upload, 0, planes.arrays[0])
        for channel, upload, planes in zip(names, uploads, decoded, strict=True)
    ]
    return _ImageGroup(name or PurePath(uploads[0].name).stem, channels)


def _file_group(
    upload: Upload, planes: imageio.Planes, names: list[str] | None, name: str | None
) -> _ImageGroup:
    if names and len(names) != len(planes.arrays):
        raise InvalidInput(
            f"{upload.name} has {len(planes.arrays)} channels but {len(names)} channel names were given."
        )
    channel_names = _channel_names(names) if names else planes.suggested_names
    channels = [
        _ChannelIn(channel, upload, page, plane)
        for page, (channel, plane) in enumerate(zip(channel_names, planes.arrays, strict=True))
    ]
    return _ImageGroup(name or PurePath(upload.name).stem, channels)


def _store_groups(*, project: Project, uploader: Any, groups: list[_ImageGroup], split: str) -> list[Image]:
    """Write files, then rows; if anything fails, remove the files already written."""
    written: list[str] = []
    try:
        with transaction.atomic():
            images = [_store_group(project, uploader, group, split, written) for group in groups]
    except IntegrityError:
        _remove_files(written)
        raise Conflict("An image of the same name was added at the same time.") from None
    except BaseException:
        _remove_files(written)
        raise
    return images


def _store_group(
    project: Project, uploader: Any, group: _ImageGroup, split: str, written: list[str]
) -> Image:
    first = group.channels[0].plane
    widest = max((channel.plane.dtype for channel in group.channels), key=lambda d: d.itemsize)
    image = Image.objects.create(
        project=project,
        name=group.name,
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        dtype=str(widest),
        split=split,
        uploaded_by=uploader,
    )
    sources: dict[int, SourceFile] = {}
    thumbnail_source: np.ndarray | None = None
    render_now = first.size <= settings.DISPLAY_SYNC_MAX_PIXELS
    for index, channel in enumerate(group.channels):
        key = id(channel.upload)
        if key not in sources:
            sources[key] = SourceFile(
                image=image,
                original_name=channel.upload.name,
                sha256=hashlib.sha256(channel.upload.data).hexdigest(),
                size=len(channel.upload.data),
            )
            sources[key].file.save(channel.upload.name, ContentFile(channel.upload.data), save=True)
            written.append(str(sources[key].file.name))
        low, high = imageio.display_range(channel.plane)
        row = Channel(
            image=image,
            name=channel.name,
            index=index,
            source=sources[key],
            page=channel.page,
            dtype=str(channel.plane.dtype),
            display_low=low,
            display_high=high,
            minimum=float(channel.plane.min()),
            maximum=float(channel.plane.max()),
        )
        if render_now:
            display = imageio.to_display(channel.plane, low, high)
            _save_display(row, display)
            written.append(str(row.display.name))
            if thumbnail_source is None:
                thumbnail_source = display
        row.save()
    if thumbnail_source is not None:
        _save_thumbnail(image, thumbnail_source)
        written.append(str(image.thumbnail.name))
    else:
        transaction.on_commit(lambda: _enqueue_render(image.pk))
    return image


def _enqueue_render(image_id: int) -> None:
    from labeling.tasks import render_displays

    render_displays.send(image_id)


def _save_display(channel: Channel, display: np.ndarray) -> None:
    channel.display.save(
        f"{channel.image_id}-{channel.index}.png", ContentFile(imageio.encode_png(display)), save=False
    )


def _save_thumbnail(image: Image, display: np.ndarray) -> None:
    image.thumbnail.save(f"{image.pk}.png", ContentFile(imageio.thumbnail_png(display)), save=False)
    image.save(update_fields=["thumbnail"])


def image_render_displays(*, image: Image) -> list[str]:
    """Make the display renditions and the thumbnail an image lacks (a worker calls this).

    Idempotent: what exists is kept. Files are written before the rows that name them.
    """
    made: list[str] = []
    first_display: np.ndarray | None = None
    for channel in image.channels.order_by("index"):
        if channel.display and first_display is not None:
            continue
        display = imageio.to_display(
            selectors.channel_plane(channel), channel.display_low, channel.display_high
        )
        if first_display is None:
            first_display = display
        if not channel.display:
            _save_display(channel, display)
            channel.save(update_fields=["display"])
            made.append(channel.name)
    if not image.thumbnail and first_display is not None:
        _save_thumbnail(image, first_display)
        made.append("thumbnail")
    return made


def _remove_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def image_update(*, image: Image, name: str | None = None, split: str | None = None) -> Image:
    fields = []
    if name is not None:
        check_file_name(name)
        clash = selectors.images_of(image.project).filter(name=name).exclude(pk=image.pk)
        if clash.exists():
            raise Conflict(f"This project already has an image named {name!r}.")
        image.name = name
        fields.append("name")
    if split is not None:
        if split not in Split.values:
            raise InvalidInput(f"Unknown split {split!r}; use one of {', '.join(Split.values)}.")
        image.split = split
        fields.append("split")
    if fields:
        image.save(update_fields=fields)
    return image


def image_archive(*, image: Image) -> None:
    """Hide an image; its files and every label made on it are kept."""
    image.archived_at = timezone.now()
    image.save(update_fields=["archived_at"])


# Annotations -------------------------------------------------------------------------------


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
    content = _validate_content(image, kind, data, mask, instances)
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
    if kind == AnnotationKind.TAG:
        if label_class is None or label_class.project_id != image.project_id:
            raise InvalidInput("A tag needs label_class, a class of this project.")
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
    image: Image, kind: str, data: dict[str, Any], mask: bytes | None, instances: bytes | None
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
    extra = set(data) - {"strokes", "provenance"}
    if extra:
        raise InvalidInput(f"Unknown fields in data: {sorted(extra)}.")
    strokes = labelmaps.validate_strokes(
        data.get("strokes", []), width=image.width, height=image.height, allowed=allowed
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
    if kind in MAP_KINDS and content is not None and version % SNAPSHOT_EVERY == 0:
        snapshot = labelmaps.encode_map(selectors.label_map_at(head, version))
        revision.snapshot.save(f"{head.pk}-v{version}-snapshot.png", ContentFile(snapshot), save=True)
    live.publish_on_commit(
        image.project_id,
        {
            "type": "labels.changed",
            "image": image.pk,
            "annotation": head.pk,
            "kind": kind,
            "key": key,
            "version": version,
            "deleted": content is None,
            "user": author.username,
        },
    )
    if kind in (AnnotationKind.SCRIBBLE, AnnotationKind.DENSE):  # a person's labels: a new preview
        signals.send_human_labels_saved_on_commit(
            image_id=image.pk, project_id=image.project_id, annotation_id=head.pk, kind=kind, version=version
        )
    return head


def _attach_maps(revision: AnnotationRevision, head: Annotation, content: LayerContent) -> None:
    stem = f"{head.pk}-v{revision.version}"
    if content.mask is not None:
        revision.mask.save(f"{stem}.png", ContentFile(labelmaps.encode_map(content.mask)), save=False)
    if content.instances is not None:
        revision.instances.save(
            f"{stem}-instances.png", ContentFile(labelmaps.encode_map(content.instances)), save=False
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
