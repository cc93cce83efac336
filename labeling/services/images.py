"""Images: uploads stored as images with named channels, their display renditions, renames,
splits and archiving."""

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

from labeling import imageio, selectors
from labeling.errors import Conflict, InvalidInput
from labeling.models import (
    Channel,
    Image,
    Project,
    SourceFile,
    Split,
)
from webapp import jobs

CHANNEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


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
        jobs.send_on_commit("render_displays", image.pk)  # labeling/actors.py
    return image


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
    for field, value in (("pixel_size_x", pixel_size_x), ("pixel_size_y", pixel_size_y)):
        if isinstance(value, Unset):
            continue
        if value is not None and not 0 < value < 1e6:
            raise InvalidInput(f"{field} is micrometres per pixel: a positive number, or null if unknown.")
        setattr(image, field, value)
        fields.append(field)
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
