"""A project's export as a streamed zip: one image is read and written at a time, the zip leaves
as it is made, and what spans images (the COCO document, the measurements table) waits in a
spooled temporary file, in memory while small, on disk past that.

    <what>/class_masks/<image>.tif     class indices, uint16 (0 = unlabelled)
    <what>/instance_masks/<image>.tif  object ids, uint16 (uint32 past 65535 objects)
    <what>/ome/<image>.ome.tif         the image's channels + classes + instances, with pixel size
    <what>/coco.json                   COCO instance segmentation, RLE masks
    <what>/geojson/<image>.geojson     QuPath features, one per object
    <what>/measurements.csv            one row per object
    manifest.json                      project, classes, model version, run, label snapshot, files
"""

from __future__ import annotations

import datetime
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from django.conf import settings

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import Project
from labeling.zipstream import ZipStream
from training.exports import formats, sources
from training.exports.spec import ExportSpec
from training.ml.measure import measure
from training.models import PREDICTING_KINDS, ModelVersion
from training.predict import exports as measurements
from training.predict.pipeline import csv_lines

SPOOL_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Export:
    """An export checked and ready to stream: everything a 4xx could be about is settled here."""

    project: Project
    spec: ExportSpec
    version: ModelVersion | None
    class_info: dict[int, formats.LabelClassInfo]

    @property
    def file_name(self) -> str:
        suffix = f"-v{self.version.pk}" if self.version is not None else ""
        return f"{formats.file_stem(self.project.name)}-{self.spec.what}{suffix}.zip"


@dataclass
class _Spans:
    """What spans images, kept until the images are done."""

    coco_images: list[dict[str, Any]] = field(default_factory=list)
    coco_annotations: IO[str] | None = None
    csv_rows: IO[str] | None = None
    columns: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    snapshot: list[list[int]] = field(default_factory=list)
    objects: int = 0


def export_prepare(*, project: Project, spec: ExportSpec, max_images: int | None) -> Export:
    version = None
    if spec.model_version is not None:
        version = project.model_versions.filter(pk=spec.model_version, kind__in=PREDICTING_KINDS).first()
        if version is None:
            raise InvalidInput(
                f"Model version {spec.model_version} is not a model of this project that predicts masks."
            )
    count = selectors.images_of(project).count()
    if max_images is not None and count > max_images:
        raise InvalidInput(
            f"This project has {count} images, more than the API exports at once ({max_images}; "
            "EXPORT_MAX_IMAGES); run `python manage.py export_project` on the server instead."
        )
    classes = {
        row.index: formats.LabelClassInfo(row.index, row.name, row.color)
        for row in selectors.label_classes(project)
    }
    return Export(project=project, spec=spec, version=version, class_info=classes)


def export_stream(export: Export, *, on_image: Callable[[], None] | None = None) -> Iterator[bytes]:
    """The zip's bytes, as they are made. `on_image` is called after each image (a progress bar)."""
    zipped = ZipStream()
    spans = _Spans(columns=measurements.project_columns(export.project))
    folder = export.spec.what
    with (
        tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+") as coco,
        tempfile.SpooledTemporaryFile(SPOOL_BYTES, mode="w+") as rows,
    ):
        spans.coco_annotations, spans.csv_rows = coco, rows
        rows.write(next(csv_lines(spans.columns, [])))
        for labelled in _labelled(export):
            yield from _image_files(export, zipped, labelled, spans)
            if on_image is not None:
                on_image()
        if "coco" in export.spec.formats:
            yield from zipped.add_text(f"{folder}/coco.json", _coco_document(export, spans))
        if "csv" in export.spec.formats:
            rows.seek(0)
            yield from zipped.add_text(f"{folder}/measurements.csv", iter(lambda: rows.read(2**20), ""))
    yield from zipped.add(
        "manifest.json", json.dumps(_manifest(export, spans, zipped.names), indent=2).encode()
    )
    yield zipped.close()


def labelled_count(export: Export) -> int:
    """How many images the export will read (for a progress bar's total)."""
    if export.version is not None:
        return export.version.predictions.filter(image__archived_at__isnull=True).count()
    return selectors.images_of(export.project).count()


def _labelled(export: Export) -> Iterator[sources.Labelled]:
    if export.spec.what == "predictions":
        assert export.version is not None  # export_prepare found it
        return sources.predictions(export.project, export.version)
    if export.spec.what == "accepted":
        return sources.accepted_labels(export.project)
    return sources.human_labels(export.project)


def _image_files(
    export: Export, zipped: ZipStream, labelled: sources.Labelled, spans: _Spans
) -> Iterator[bytes]:
    image, wanted, folder = labelled.image, export.spec.formats, export.spec.what
    stem = formats.file_stem(image.name)
    instances = formats.instance_array(labelled.objects)
    files: list[str] = []
    if "classes" in wanted:
        files.append(f"{folder}/class_masks/{stem}.tif")
        yield from zipped.add(files[-1], formats.label_tiff(labelled.classes))
    if "instances" in wanted:
        files.append(f"{folder}/instance_masks/{stem}.tif")
        yield from zipped.add(files[-1], formats.label_tiff(instances))
    # The original pixels, decoded once, where a format needs them (a prediction was measured already).
    needs_pixels = "ome" in wanted or ("csv" in wanted and labelled.table is None)
    planes = selectors.all_planes(image) if needs_pixels else {}
    if "ome" in wanted:
        files.append(f"{folder}/ome/{stem}.ome.tif")
        ome = formats.ome_tiff(planes, labelled.classes, instances, pixel_size=selectors.pixel_size(image))
        yield from zipped.add(files[-1], ome)
    if "geojson" in wanted:
        files.append(f"{folder}/geojson/{stem}.geojson")
        collection = {
            "type": "FeatureCollection",
            "features": formats.geojson_features(labelled.objects, export.class_info),
        }
        yield from zipped.add(files[-1], json.dumps(collection).encode())
    if "coco" in wanted:
        _add_coco(image, labelled, spans)
    if "csv" in wanted:
        _add_rows(export, labelled, planes, spans)
    spans.snapshot.extend(labelled.layers)
    spans.objects += labelled.objects.count
    spans.images.append(_image_entry(labelled, files))


def _add_coco(image: Any, labelled: sources.Labelled, spans: _Spans) -> None:
    assert spans.coco_annotations is not None
    spans.coco_images.append(
        {"id": image.pk, "file_name": image.name, "width": image.width, "height": image.height}
    )
    found = formats.coco_annotations(labelled.objects, image_id=image.pk, first_id=spans.objects + 1)
    for annotation in found:
        spans.coco_annotations.write(("," if spans.coco_annotations.tell() else "") + json.dumps(annotation))


def _add_rows(export: Export, labelled: sources.Labelled, planes: dict[str, Any], spans: _Spans) -> None:
    assert spans.csv_rows is not None
    table = labelled.table
    if table is None:
        names = {index: info.name for index, info in export.class_info.items()}
        table = measure(
            labelled.objects, planes, class_names=names, pixel_size=selectors.pixel_size(labelled.image)
        )
    context = {"image": labelled.image.name, "model_version": export.version.pk if export.version else None}
    rows = ({**context, **dict(zip(table.columns, row, strict=True))} for row in table.rows)
    lines = csv_lines(spans.columns, rows)
    next(lines)  # the header, written once
    spans.csv_rows.writelines(lines)


def _coco_document(export: Export, spans: _Spans) -> Iterator[str]:
    """The COCO document, its annotations copied from the spool."""
    assert spans.coco_annotations is not None
    categories = [
        {"id": info.index, "name": info.name, "color": info.color}
        for info in export.class_info.values()
        if info.index != sources.BACKGROUND_INDEX
    ]
    head = {
        "info": {"description": f"Lesslabel export of {export.project.name}"},
        "images": spans.coco_images,
    }
    yield json.dumps({**head, "categories": categories})[:-1] + ', "annotations": ['
    spans.coco_annotations.seek(0)
    yield from iter(lambda: spans.coco_annotations.read(2**20), "")  # type: ignore[union-attr]
    yield "]}"


def _image_entry(labelled: sources.Labelled, files: list[str]) -> dict[str, Any]:
    image = labelled.image
    return {
        "id": image.pk,
        "name": image.name,
        "width": image.width,
        "height": image.height,
        "stack": image.stack_id,
        "z": image.z,
        "t": image.t,
        "pixel_size_um": selectors.pixel_size(image),
        "objects": labelled.objects.count,
        "source": labelled.source,
        "files": files,
    }


def _manifest(export: Export, spans: _Spans, names: list[str]) -> dict[str, Any]:
    version, project = export.version, export.project
    run = version.run if version is not None else None
    return {
        "format": "lesslabel-export",
        "format_version": 1,
        "app_version": settings.APP_VERSION,
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "project": {"id": project.pk, "name": project.name, "description": project.description},
        "classes": [
            {**asdict(info), "background": info.index == sources.BACKGROUND_INDEX}
            for info in export.class_info.values()
        ],
        "what": export.spec.what,
        "formats": list(export.spec.formats),
        "model_version": None
        if version is None
        else {
            "id": version.pk,
            "created_at": version.created_at.isoformat(),
            "config": version.config,
            "metrics": version.metrics,
        },
        "run": None
        if run is None
        else {"id": run.pk, "config": run.config, "label_snapshot": run.label_snapshot},
        "label_snapshot": spans.snapshot,
        "objects": spans.objects,
        "images": spans.images,
        "files": names,
    }
