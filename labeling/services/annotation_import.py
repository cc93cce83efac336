"""Existing annotations in: label images, COCO JSON and QuPath GeoJSON attached to the project's
images by name, as dense layers with their instance maps. All or nothing: every file is read and
every name, size and class checked before anything is written; a failure while writing removes
the label files already written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from labeling import labelmaps, selectors
from labeling.errors import InvalidInput
from labeling.importers.archive import Limits, NamedFile, unpack
from labeling.importers.label_images import LabelImageKind
from labeling.importers.labels import ClassKey, ImageLabels, name_candidates
from labeling.importers.read import ReadOptions, read_annotations
from labeling.models import Annotation, AnnotationKind, AnnotationRevision, Image, Project
from labeling.services.annotations import annotation_save
from labeling.services.classes import label_class_create
from labeling.services.images import Upload

BACKGROUND_INDEX = 1
ExistingPolicy = Literal["refuse", "skip", "replace"]
RestPolicy = Literal["background", "unknown"]


@dataclass(frozen=True)
class ImportOptions:
    label_images: LabelImageKind = "instances"  # what the values of a label image are
    class_name: str | None = None  # the class of instance label images and unclassified shapes
    class_values: dict[int, str] | None = None  # class label images: value -> class name
    create_classes: bool = False  # create classes the files name that the project lacks
    existing: ExistingPolicy = "refuse"  # images that already have a dense mask
    rest: RestPolicy = "background"  # what pixels outside every object become


@dataclass
class ImportResult:
    images: list[int] = field(default_factory=list)  # ids of the images given a dense layer
    objects: int = 0
    classes_created: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"image", "reason"}
    skipped_shapes: int = 0  # points, lines and boxes, which cannot be masks


def annotations_import(
    *, project: Project, author: Any, files: list[Upload], options: ImportOptions
) -> ImportResult:
    """Attach the annotations in `files` (each a file, or a zip of files) to the project's images."""
    total = sum(len(file.data) for file in files)
    if total > settings.MAX_UPLOAD_BYTES:
        raise InvalidInput(f"The upload is {total} bytes; at most {settings.MAX_UPLOAD_BYTES}.")
    limits = Limits(
        entries=settings.IMPORT_MAX_ZIP_ENTRIES,
        total_bytes=settings.IMPORT_MAX_UNCOMPRESSED_BYTES,
        file_bytes=settings.IMPORT_MAX_FILE_BYTES,
    )
    named = unpack([NamedFile(file.name, file.data) for file in files], limits=limits)
    if not named:
        raise InvalidInput("Send at least one annotation file (or a zip with some).")
    read = ReadOptions(
        label_images=options.label_images, class_name=options.class_name, class_values=options.class_values
    )
    labels = read_annotations(named, read)
    result = ImportResult(skipped_shapes=sum(item.skipped for item in labels))
    targets = _matched(project, labels)
    targets = _without_existing(targets, options.existing, result)
    missing = _missing_classes(project, [item for _, item in targets], options)
    _write(project=project, author=author, targets=targets, missing=missing, options=options, result=result)
    return result


def _matched(project: Project, labels: list[ImageLabels]) -> list[tuple[Image, ImageLabels]]:
    candidates = {name for item in labels for name in name_candidates(item.image_name)}
    images = {image.name: image for image in selectors.images_of(project).filter(name__in=candidates)}
    found: dict[str, Image] = {}  # file's image name -> the image it means
    unknown: dict[str, list[str]] = {}
    for item in labels:
        match = next((images[n] for n in name_candidates(item.image_name) if n in images), None)
        if match is None:
            unknown.setdefault(item.origin, []).append(item.image_name)
        else:
            found[item.image_name] = match
    if unknown:
        listed = "; ".join(f"{origin}: {sorted(names)[:10]}" for origin, names in unknown.items())
        raise InvalidInput(
            f"The annotations name images this project does not have ({listed}); upload the images "
            "first, or name each file like its image. Nothing was imported."
        )
    targets = [(found[item.image_name], item) for item in labels]
    names = [image.name for image, _ in targets]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidInput(f"Several files give labels for the images {twice[:10]}; send one per image.")
    wrong = [
        f"{image.name} ({item.size[1]}x{item.size[0]} in {item.origin}, {image.width}x{image.height} here)"
        for image, item in targets
        if item.size is not None and item.size != (image.height, image.width)
    ]
    if wrong:
        raise InvalidInput(f"The annotations of {', '.join(wrong[:10])} are not of the image's size.")
    return targets


def _without_existing(
    targets: list[tuple[Image, ImageLabels]], policy: ExistingPolicy, result: ImportResult
) -> list[tuple[Image, ImageLabels]]:
    labelled = set(
        Annotation.objects.filter(
            image__in=[image for image, _ in targets], kind=AnnotationKind.DENSE, is_deleted=False
        ).values_list("image_id", flat=True)
    )
    if not labelled or policy == "replace":
        return targets
    names = sorted(image.name for image, _ in targets if image.pk in labelled)
    if policy == "refuse":
        raise InvalidInput(
            f"The images {names[:10]} already have dense masks; send existing=replace to add the import "
            "as a new version of each (the old ones stay in the history), or existing=skip to leave them."
        )
    result.skipped.extend({"image": name, "reason": "already has a dense mask"} for name in names)
    return [(image, item) for image, item in targets if image.pk not in labelled]


def _missing_classes(project: Project, labels: list[ImageLabels], options: ImportOptions) -> dict[str, bool]:
    """The named classes to create (name -> countable); refuses what cannot be resolved."""
    by_name = dict(project.classes.values_list("name", "index"))
    indices = set(by_name.values())
    wanted: dict[ClassKey, bool] = {}
    for item in labels:
        for key in item.classes:
            wanted[key] = wanted.get(key, False) or item.countable
    bad_indices = sorted(key for key in wanted if isinstance(key, int) and key not in indices)
    if bad_indices:
        raise InvalidInput(
            f"The label images use class values {bad_indices[:10]}, which are not class indices of this "
            f"project ({sorted(indices)}); send a value -> class name table (classes), or "
            "label_images=instances if each value is an object."
        )
    missing = {
        key: countable for key, countable in wanted.items() if isinstance(key, str) and key not in by_name
    }
    if missing and not options.create_classes:
        raise InvalidInput(
            f"The classes {sorted(missing)[:20]} do not exist in this project; create them, or send "
            "create_classes=true to have them created. Nothing was imported."
        )
    if options.rest == "background" and BACKGROUND_INDEX not in indices:
        raise InvalidInput(
            f"This project has no background class (index {BACKGROUND_INDEX}); send rest=unknown."
        )
    return missing


def _write(
    *,
    project: Project,
    author: Any,
    targets: list[tuple[Image, ImageLabels]],
    missing: dict[str, bool],
    options: ImportOptions,
    result: ImportResult,
) -> None:
    written: list[str] = []
    try:
        with transaction.atomic():
            for name, countable in sorted(missing.items()):
                label_class_create(project=project, name=name, countable=countable)
                result.classes_created.append(name)
            index: dict[ClassKey, int] = dict(project.classes.values_list("name", "index"))
            index.update({value: value for value in index.values()})
            for image, item in targets:
                saved = _save_one(image, item, index, author=author, rest=options.rest, result=result)
                if saved is not None:
                    written.extend(_files_of(saved))
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def _save_one(
    image: Image,
    item: ImageLabels,
    index: dict[ClassKey, int],
    *,
    author: Any,
    rest: RestPolicy,
    result: ImportResult,
) -> Annotation | None:
    drawn = item.draw(image.height, image.width, index)
    classes = (
        drawn.classes if rest == "unknown" else np.where(drawn.classes > 0, drawn.classes, BACKGROUND_INDEX)
    )
    if not classes.any():
        result.skipped.append({"image": image.name, "reason": "no objects, and rest=unknown"})
        return None
    head = Annotation.objects.filter(image=image, kind=AnnotationKind.DENSE, key="").first()
    saved = annotation_save(
        image=image,
        author=author,
        kind=AnnotationKind.DENSE,
        base_version=head.version if head else 0,
        data={},
        mask=labelmaps.encode_map(classes.astype(np.uint16)),
        instances=labelmaps.encode_map(drawn.instances) if drawn.instances is not None else None,
    )
    result.images.append(image.pk)
    result.objects += drawn.objects
    return saved


def _files_of(annotation: Annotation) -> list[str]:
    revision = AnnotationRevision.objects.get(annotation=annotation, version=annotation.version)
    return [str(f.name) for f in (revision.mask, revision.instances, revision.snapshot) if f]
