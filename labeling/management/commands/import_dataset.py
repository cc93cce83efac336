"""Import a folder of microscopy images, with their ground-truth masks, into a project.

Reads the two layouts of ../shared/data/README.md, or a plain folder of images:
- `<set>/images/*.{png,tif,tiff,czi,nd2}` (+ `<set>/labels/<same stem>.png`, 16-bit instance
  maps): one image per file (a file with z-planes or time points: one per plane);
- `<set>/brightfield/NAME.png` + `<set>/fluorescence/NAME.png` (+ `<set>/nuclei/NAME.png`, a 0/255
  mask): one image per NAME with the channels "brightfield" and "fluorescence";
- `<set>/*.{png,tif,tiff,czi,nd2}`: one image per file, without ground truth.
Ground truth becomes the image's dense annotation: the background class (index 1) where there is
no object, the object class elsewhere, with the instance map attached. `--annotations` attaches
existing annotations (a COCO or GeoJSON file, a zip, or a folder of label images or GeoJSON files)
by image name, as the API's import does. Images whose name is already live in the project are
skipped, and so are images that already have a dense mask, so running the command again imports
only what is new.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from scipy import ndimage
from tqdm import tqdm

from labeling import labelmaps, selectors, services
from labeling.access import can
from labeling.errors import Conflict, InvalidInput
from labeling.imageio import PAGES_CHOICES, PagesAre
from labeling.models import AnnotationKind, LabelClass, Project, Role

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".czi", ".nd2")
BACKGROUND_INDEX = 1
PAIRED_CHANNELS = ("brightfield", "fluorescence")

TruthKind = Literal["instances", "binary"]


@dataclass(frozen=True)
class DatasetItem:
    """One image to import: its files (one per channel) and its ground truth, if any."""

    name: str
    files: tuple[Path, ...]
    channel_names: tuple[str, ...] = ()  # empty: the file's own planes name the channels
    truth: Path | None = None
    truth_kind: TruthKind = "instances"


class Command(BaseCommand):
    help = (
        "Import a data set folder (images/ + labels/, or brightfield/ + fluorescence/ + nuclei/) "
        "into a project, with ground-truth masks as dense annotations. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="folder of one data set, for example ../shared/data/bbbc039")
        parser.add_argument("--project", required=True, help="project name; created if the owner has none")
        parser.add_argument("--owner", help="username that owns the import (default: the first superuser)")
        parser.add_argument("--limit", type=int, help="import only the first N images, sorted by name")
        parser.add_argument(
            "--class-name", default="nucleus", help="class of the objects in the masks (default: nucleus)"
        )
        parser.add_argument(
            "--pages",
            choices=PAGES_CHOICES,
            help="what the pages of multi-page TIFFs without metadata are: channels, z or t",
        )
        parser.add_argument(
            "--annotations",
            type=Path,
            help="existing annotations to attach by image name: a COCO or QuPath GeoJSON file, a zip, "
            "or a folder of label images (PNG/TIFF named like their images) or GeoJSON files",
        )
        parser.add_argument(
            "--label-images",
            choices=("instances", "classes"),
            default="instances",
            help="with --annotations: label images give each object an id of --class-name "
            "(instances, the default) or each pixel a class index (classes)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit: int | None = options["limit"]
        if limit is not None and limit < 1:
            raise CommandError(f"--limit must be a positive number of images, not {limit}.")
        items = discover(Path(options["path"]))[:limit]
        annotations = annotation_files(Path(options["annotations"])) if options["annotations"] else None
        try:
            owner = resolve_owner(options["owner"])
            project = resolve_project(options["project"], owner)
            object_class = resolve_object_class(project, options["class_name"])
        except (InvalidInput, Conflict) as error:
            raise CommandError(str(error)) from error
        present = set(selectors.images_of(project).values_list("name", flat=True))
        present |= set(project.stacks.filter(planes__archived_at__isnull=True).values_list("name", flat=True))
        new = [item for item in items if item.name not in present]
        # The command's own stderr wrapper appends a newline to every write, which breaks the
        # bar's carriage returns, so the bar writes to the underlying stream.
        stream = options.get("stderr") or sys.stderr
        progress = tqdm(new, desc="Importing", unit="image", file=stream, disable=options["verbosity"] == 0)
        with_masks = 0
        for done, item in enumerate(progress):
            try:
                with_masks += import_item(
                    item,
                    project=project,
                    owner=owner,
                    object_index=object_class.index,
                    pages=options["pages"],
                )
            except (InvalidInput, Conflict, CommandError) as error:
                progress.close()
                raise CommandError(
                    f"{item.name}: {error}. {done} images were imported before this one; fix it and "
                    "run the command again to import the rest."
                ) from error
        progress.close()
        if options["verbosity"] >= 2 and len(items) > len(new):
            self.stdout.write("Skipped: " + ", ".join(item.name for item in items if item.name in present))
        self.stdout.write(
            f"Imported {len(new)} images ({with_masks} with dense masks), skipped "
            f"{len(items) - len(new)} already present, into project {project.name!r} (id {project.pk})."
        )
        if annotations is not None:
            self.stdout.write(attach(annotations, project=project, owner=owner, options=options))


# Finding the files --------------------------------------------------------------------------


def discover(root: Path) -> list[DatasetItem]:
    """The images of a data set folder, sorted by name, or CommandError saying what is wrong."""
    if not root.is_dir():
        raise CommandError(f"{root} is not a folder; pass the folder of one data set.")
    has_single = (root / "images").is_dir()
    has_paired = any((root / channel).is_dir() for channel in PAIRED_CHANNELS)
    flat = _files_by_stem(root) if not (has_single or has_paired) else {}
    if not (has_single or has_paired or flat):
        raise CommandError(
            f"{root} follows none of the data set layouts: it needs images/ (+ labels/), or "
            "brightfield/ + fluorescence/ (+ nuclei/), as ../shared/data/README.md describes, or "
            "image files directly in it."
        )
    items = [DatasetItem(name=stem, files=(path,)) for stem, path in flat.items()]
    items += (_single_channel_items(root) if has_single else []) + (_paired_items(root) if has_paired else [])
    if not items:
        raise CommandError(f"{root} holds no image files ({', '.join(IMAGE_SUFFIXES)}).")
    names = [item.name for item in items]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise CommandError(f"{root}: images/ and brightfield/ both have images named {twice[:5]}.")
    return sorted(items, key=lambda item: item.name)


def _files_by_stem(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in suffixes:
            continue
        stem = services.image_name_for(path.name)
        if stem in found:
            raise CommandError(f"{found[stem]} and {path} have the same name; keep one of them.")
        found[stem] = path
    return found


def _single_channel_items(root: Path) -> list[DatasetItem]:
    labels = _files_by_stem(root / "labels", suffixes=(".png",))
    return [
        DatasetItem(name=stem, files=(path,), truth=labels.get(stem), truth_kind="instances")
        for stem, path in _files_by_stem(root / "images").items()
    ]


def _paired_items(root: Path) -> list[DatasetItem]:
    brightfield, fluorescence = (_files_by_stem(root / channel) for channel in PAIRED_CHANNELS)
    unpaired = sorted(set(brightfield) ^ set(fluorescence))
    if unpaired:
        raise CommandError(
            f"{root}: {len(unpaired)} fields lack a brightfield or a fluorescence file "
            f"(for example {unpaired[:3]}); every NAME needs brightfield/NAME and fluorescence/NAME."
        )
    nuclei = _files_by_stem(root / "nuclei", suffixes=(".png",))
    return [
        DatasetItem(
            name=stem,
            files=(brightfield[stem], fluorescence[stem]),
            channel_names=PAIRED_CHANNELS,
            truth=nuclei.get(stem),
            truth_kind="binary",
        )
        for stem in brightfield
    ]


# Who, where and which class -----------------------------------------------------------------


def resolve_owner(username: str | None) -> Any:
    model = get_user_model()
    if username:
        user = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
        if user is None or not user.is_active:
            raise CommandError(
                f"There is no active user {username!r}; pass another --owner, or create one with "
                "`python manage.py createsuperuser`."
            )
        return user
    user = model._default_manager.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        raise CommandError(
            "There is no superuser to own the import; pass --owner USERNAME, or create a user with "
            "`python manage.py createsuperuser`."
        )
    return user


def resolve_project(name: str, owner: Any) -> Project:
    """The owner's live project of this name, or a new one that they own."""
    matches = list(selectors.projects_for(owner).filter(name=name.strip()).order_by("pk")[:2])
    if len(matches) > 1:
        raise CommandError(f"{owner} is in several projects named {name!r}; rename one of them first.")
    if not matches:
        return services.project_create(name=name, owner=owner)
    project = matches[0]
    # The same role the API asks for to upload images and create classes.
    if not can(project.role_of(owner), Role.MANAGER):
        raise CommandError(
            f"{owner} may not add images to project {name!r} (id {project.pk}); importing needs the "
            "manager role or higher. Pass another --owner or another --project."
        )
    return project


def resolve_object_class(project: Project, name: str) -> LabelClass:
    if not project.classes.filter(index=BACKGROUND_INDEX).exists():
        raise CommandError(
            f"Project {project.name!r} has no class with index {BACKGROUND_INDEX}, which dense masks "
            "use for background; import into another project."
        )
    label_class = project.classes.filter(name=name.strip()).first()
    if label_class is None:
        return services.label_class_create(project=project, name=name, countable=True)
    if label_class.index == BACKGROUND_INDEX:
        raise CommandError(
            f"--class-name {name!r} is the background class; name the class of the objects instead."
        )
    return label_class


# One image ----------------------------------------------------------------------------------


def import_item(
    item: DatasetItem, *, project: Project, owner: Any, object_index: int, pages: PagesAre | None = None
) -> bool:
    """Store one image (or a stack's planes) and its dense annotation, both or neither; True when
    it had a mask."""
    instances = read_instances(item) if item.truth is not None else None
    uploads = [
        services.Upload(_upload_name(item, path, channel), path.read_bytes())
        for path, channel in zip(item.files, item.channel_names or ("",) * len(item.files), strict=True)
    ]
    with transaction.atomic():
        images = services.image_ingest(
            project=project,
            uploader=owner,
            uploads=uploads,
            channel_names=list(item.channel_names) or None,
            name=item.name,
            pages=pages,
        )
        if instances is None:
            return False
        if len(images) != 1:
            raise CommandError(
                "a stack's ground truth cannot come from labels/; attach one label image per plane "
                "with --annotations"
            )
        (image,) = images
        services.annotation_save(
            image=image,
            author=owner,
            kind=AnnotationKind.DENSE,
            base_version=0,
            data={},
            mask=labelmaps.encode_map(dense_mask(instances, object_index=object_index)),
            instances=labelmaps.encode_map(instances),
        )
    return True


def annotation_files(path: Path) -> list[services.Upload]:
    """The files of --annotations: the file itself, or every file in the folder (not hidden)."""
    if path.is_file():
        return [services.Upload(path.name, path.read_bytes())]
    if not path.is_dir():
        raise CommandError(f"--annotations {path}: no such file or folder.")
    found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not found:
        raise CommandError(f"--annotations {path}: the folder holds no files.")
    return [services.Upload(str(p.relative_to(path)), p.read_bytes()) for p in found]


def attach(files: list[services.Upload], *, project: Project, owner: Any, options: dict[str, Any]) -> str:
    """Attach existing annotations to the project's images; a line saying what was done."""
    import_options = services.ImportOptions(
        label_images=options["label_images"],
        class_name=options["class_name"].strip(),
        create_classes=True,
        existing="skip",
    )
    try:
        result = services.annotations_import(
            project=project, author=owner, files=files, options=import_options
        )
    except (InvalidInput, Conflict) as error:
        raise CommandError(f"--annotations: {error}") from error
    created = f", created classes {result.classes_created}" if result.classes_created else ""
    return (
        f"Attached annotations to {len(result.images)} images ({result.objects} objects){created}; "
        f"skipped {len(result.skipped)} images that already had dense masks."
    )


def _upload_name(item: DatasetItem, path: Path, channel: str) -> str:
    # Paired files share one name (brightfield/NAME.png, fluorescence/NAME.png); the stored
    # original names say which channel each was.
    return f"{path.stem}_{channel}{path.suffix}" if channel else path.name


def read_instances(item: DatasetItem) -> np.ndarray:
    """The item's instance map (uint16, 0 = background); a binary mask is split into components."""
    assert item.truth is not None
    try:
        raw = labelmaps.decode_png_map(item.truth.read_bytes(), what="ground-truth mask")
    except InvalidInput as error:
        raise CommandError(f"{item.truth}: {error}") from error
    if item.truth_kind == "instances":
        return raw
    components, count = ndimage.label(raw > 0)
    if count > np.iinfo(np.uint16).max:
        raise CommandError(f"{item.truth}: {count} objects do not fit a 16-bit instance map.")
    return np.asarray(components, dtype=np.uint16)


def dense_mask(instances: np.ndarray, *, object_index: int) -> np.ndarray:
    """Label map: background where the instance map is 0, the object class where it is > 0.

    Shape: (h, w) uint16 in, (h, w) uint16 out.
    """
    return np.where(instances > 0, object_index, BACKGROUND_INDEX).astype(np.uint16)
