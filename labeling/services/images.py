"""Images: uploads stored as images with named channels, their display renditions, renames,
splits and archiving."""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling import imageio, selectors
from labeling.errors import Conflict, InvalidInput
from labeling.models import (
    Channel,
    Image,
    Project,
    SourceFile,
    Split,
    Stack,
)
from webapp import jobs

MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def check_file_name(name: str) -> str:
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
        raise InvalidInput(f"File name {name!r} must be a plain name without path separators.")
    if any(ord(char) < 32 for char in name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"File name {name!r} has control characters or is too long.")
    return name


def _channel_names(names: list[str]) -> list[str]:
    for name in names:
        if not imageio.CHANNEL_NAME_RE.match(name):
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
    pages: imageio.PagesAre | None = None,
) -> list[Image]:
    """Store uploaded files as images, all or nothing.

    With `channel_names` as long as `uploads` (and more than one file), the files are the named
    channels of one image (for example brightfield.png + fluorescence.png). Otherwise each file
    is one image, whose channels (named by its metadata, or by `channel_names` when the counts
    match) are its pages or colour planes; a file with z-planes or time points becomes a Stack
    of images, one per (z, t) plane, named "<name> z03 t00". `pages` says what the pages of a
    multi-page TIFF without metadata are (channels, z or t); such a file without it is refused.
    Every file's layout is checked against the limits before any pixel is decoded, and planes
    are decoded one image at a time.
    """
    _check_request(uploads, name=name, split=split, pages=pages)
    with ExitStack() as opened:
        readers = [
            opened.enter_context(
                imageio.open_image(
                    upload.data,
                    filename=upload.name,
                    pages=pages,
                    max_pixels=settings.MAX_IMAGE_PIXELS,
                    max_planes=settings.MAX_STACK_PLANES,
                    max_channels=settings.MAX_IMAGE_CHANNELS,
                )
            )
            for upload in uploads
        ]
        if channel_names and len(uploads) > 1 and len(channel_names) == len(uploads):
            groups = [_paired_group(uploads, readers, _channel_names(channel_names), name)]
        else:
            if name and len(uploads) > 1:
                raise InvalidInput("A name can only be given for a single image.")
            groups = [
                group
                for upload, reader in zip(uploads, readers, strict=True)
                for group in _file_groups(upload, reader, channel_names, name)
            ]
        _check_names(project, [group.name for group in groups])
        return _store_groups(project=project, uploader=uploader, groups=groups, split=split)


def _check_request(uploads: list[Upload], *, name: str | None, split: str, pages: str | None) -> None:
    if not uploads:
        raise InvalidInput("Send at least one file.")
    if split not in Split.values:
        raise InvalidInput(f"Unknown split {split!r}; use one of {', '.join(Split.values)}.")
    if pages is not None and pages not in imageio.PAGES_CHOICES:
        raise InvalidInput(f"Unknown pages {pages!r}; use one of {', '.join(imageio.PAGES_CHOICES)}.")
    total = sum(len(upload.data) for upload in uploads)
    if total > settings.MAX_UPLOAD_BYTES:
        raise InvalidInput(f"The upload is {total} bytes; at most {settings.MAX_UPLOAD_BYTES}.")
    for upload in uploads:
        check_file_name(upload.name)
    if name is not None:
        check_file_name(name)


def _check_names(project: Project, names: list[str]) -> None:
    for name in names:
        check_file_name(name)
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise InvalidInput(f"Two files would make images of the same name: {twice[:10]}.")
    clash = list(selectors.images_of(project).filter(name__in=names).values_list("name", flat=True)[:10])
    if clash:
        raise Conflict(f"This project already has images named {sorted(clash)}.")


@dataclass
class _ChannelIn:
    name: str
    upload: Upload
    reader: imageio.ImageReader
    page: int  # plane index in the file (readers/base.py)


@dataclass(eq=False)
class _StackIn:
    name: str
    layout: imageio.Layout


@dataclass
class _ImageGroup:
    name: str
    channels: list[_ChannelIn]
    layout: imageio.Layout
    stack: _StackIn | None = None
    z: int = 0
    t: int = 0


def image_name_for(file_name: str) -> str:
    """The image name a file gives: its name without the suffix ("a.ome.tif" -> "a")."""
    stem = PurePath(file_name).stem
    return stem[: -len(".ome")] if stem.lower().endswith(".ome") and len(stem) > 4 else stem


def _paired_group(
    uploads: list[Upload], readers: list[imageio.ImageReader], names: list[str], name: str | None
) -> _ImageGroup:
    for upload, reader in zip(uploads, readers, strict=True):
        if reader.layout.size_c != 1 or reader.layout.is_stack:
            raise InvalidInput(
                f"{upload.name} has {reader.layout.size_c} channels and {reader.layout.planes} planes; "
                "when files are paired as channels, each file must hold one 2-D channel."
            )
    if len({(reader.layout.width, reader.layout.height) for reader in readers}) != 1:
        raise InvalidInput("Paired channel files must all have the same width and height.")
    channels = [
        _ChannelIn(channel, upload, reader, 0)
        for channel, upload, reader in zip(names, uploads, readers, strict=True)
    ]
    return _ImageGroup(name or image_name_for(uploads[0].name), channels, readers[0].layout)


def _file_groups(
    upload: Upload, reader: imageio.ImageReader, names: list[str] | None, name: str | None
) -> list[_ImageGroup]:
    layout = reader.layout
    if names and len(names) != layout.size_c:
        raise InvalidInput(
            f"{upload.name} has {layout.size_c} channels but {len(names)} channel names were given."
        )
    channel_names = _channel_names(names) if names else list(layout.channel_names)
    base = name or image_name_for(upload.name)

    def channels(z: int, t: int) -> list[_ChannelIn]:
        return [
            _ChannelIn(channel, upload, reader, layout.plane_index(c=c, z=z, t=t))
            for c, channel in enumerate(channel_names)
        ]

    if not layout.is_stack:
        return [_ImageGroup(base, channels(0, 0), layout)]
    stack = _StackIn(base, layout)
    return [
        _ImageGroup(plane_name(base, z=z, t=t, layout=layout), channels(z, t), layout, stack, z, t)
        for t in range(layout.size_t)
        for z in range(layout.size_z)
    ]


def plane_name(base: str, *, z: int, t: int, layout: imageio.Layout) -> str:
    """The name of one plane-image of a stack: "<name> z03 t00", numbers as wide as the largest."""
    z_width = max(2, len(str(layout.size_z - 1)))
    t_width = max(2, len(str(layout.size_t - 1)))
    return f"{base} z{z:0{z_width}d} t{t:0{t_width}d}"


@dataclass
class _Written:
    """What one ingest wrote so far: files to remove if it fails, and each upload's stored file
    (a stack's planes share it) and Stack row."""

    names: list[str] = field(default_factory=list)
    stored: dict[int, tuple[str, str]] = field(default_factory=dict)  # id(upload) -> (name, sha256)
    stacks: dict[int, Stack] = field(default_factory=dict)  # id(_StackIn) -> row


def _store_groups(*, project: Project, uploader: Any, groups: list[_ImageGroup], split: str) -> list[Image]:
    """Write files, then rows; if anything fails, remove the files already written."""
    written = _Written()
    try:
        with transaction.atomic():
            images = [_store_group(project, uploader, group, split, written) for group in groups]
    except IntegrityError:
        _remove_files(written.names)
        raise Conflict("An image of the same name was added at the same time.") from None
    except BaseException:
        _remove_files(written.names)
        raise
    return images


def _store_group(project: Project, uploader: Any, group: _ImageGroup, split: str, written: _Written) -> Image:
    planes = [channel.reader.read(channel.page) for channel in group.channels]
    first = planes[0]
    widest = max((plane.dtype for plane in planes), key=lambda d: d.itemsize)
    image = Image.objects.create(
        project=project,
        name=group.name,
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        dtype=str(widest),
        split=split,
        uploaded_by=uploader,
        pixel_size_x=group.layout.pixel_size_x,
        pixel_size_y=group.layout.pixel_size_y,
        stack=_stack_row(project, group.stack, written),
        z=group.z,
        t=group.t,
    )
    sources: dict[int, SourceFile] = {}
    thumbnail_source: np.ndarray | None = None
    # A stack's planes are rendered during the upload only while all of them together are small.
    render_now = (
        first.size * (group.stack.layout.planes if group.stack else 1) <= settings.DISPLAY_SYNC_MAX_PIXELS
    )
    for index, (channel, plane) in enumerate(zip(group.channels, planes, strict=True)):
        key = id(channel.upload)
        if key not in sources:
            sources[key] = _source_row(image, channel, written)
        low, high = imageio.display_range(plane)
        row = Channel(
            image=image,
            name=channel.name,
            index=index,
            source=sources[key],
            page=channel.page,
            dtype=str(plane.dtype),
            display_low=low,
            display_high=high,
            minimum=float(plane.min()),
            maximum=float(plane.max()),
        )
        if render_now:
            display = imageio.to_display(plane, low, high)
            _save_display(row, display)
            written.names.append(str(row.display.name))
            if thumbnail_source is None:
                thumbnail_source = display
        row.save()
    if thumbnail_source is not None:
        _save_thumbnail(image, thumbnail_source)
        written.names.append(str(image.thumbnail.name))
    else:
        jobs.send_on_commit("render_displays", image.pk)  # labeling/actors.py
    return image


def _stack_row(project: Project, stack: _StackIn | None, written: _Written) -> Stack | None:
    if stack is None:
        return None
    if id(stack) not in written.stacks:
        written.stacks[id(stack)] = Stack.objects.create(
            project=project,
            name=stack.name,
            size_z=stack.layout.size_z,
            size_t=stack.layout.size_t,
            pixel_size_z=stack.layout.pixel_size_z,
        )
    return written.stacks[id(stack)]


def _source_row(image: Image, channel: _ChannelIn, written: _Written) -> SourceFile:
    """The image's row for the channel's file; the file itself is stored once per upload."""
    upload = channel.upload
    stored = written.stored.get(id(upload))
    row = SourceFile(
        image=image,
        original_name=upload.name,
        sha256=stored[1] if stored else hashlib.sha256(upload.data).hexdigest(),
        size=len(upload.data),
        pages=channel.reader.layout.pages,
    )
    if stored is not None:
        row.file.name = stored[0]
        row.save()
        return row
    row.file.save(upload.name, ContentFile(upload.data), save=True)
    written.names.append(str(row.file.name))
    written.stored[id(upload)] = (str(row.file.name), row.sha256)
    return row


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


class Unset:
    """An argument left out (None would mean "clear it")."""


UNSET = Unset()


def image_update(
    *,
    image: Image,
    name: str | None = None,
    split: str | None = None,
    pixel_size_x: float | Unset | None = UNSET,
    pixel_size_y: float | Unset | None = UNSET,
) -> Image:
    """Rename, move to another split, or set (None: forget) the micrometres per pixel."""
    fields = []
    for attribute, value in (("pixel_size_x", pixel_size_x), ("pixel_size_y", pixel_size_y)):
        if isinstance(value, Unset):
            continue
        if value is not None and not 0 < value < 1e6:
            raise InvalidInput(
                f"{attribute} is micrometres per pixel: a positive number, or null if unknown."
            )
        setattr(image, attribute, value)
        fields.append(attribute)
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
