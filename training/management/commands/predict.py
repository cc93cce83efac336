"""Predict a folder of images with a model version, outside the app: label images, instance maps
and a measurements CSV (training/predict/folder.py says what is written)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from training import scoring
from training.ml.loop import choose_device
from training.models import ModelVersion
from training.predict import folder


class Command(BaseCommand):
    help = (
        "Predict every PNG, TIFF or JPEG file of a folder with a model version: one label image per "
        "file (same stem), instance maps of the countable classes and measurements.csv."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model-version", type=int, required=True, help="the model version's id")
        parser.add_argument("--input", type=Path, required=True, help="folder of image files")
        parser.add_argument("--output", type=Path, required=True, help="folder to write to (made if absent)")
        parser.add_argument("--device", choices=["cuda", "cpu"], help="default: CUDA when there is a GPU")
        parser.add_argument("--format", choices=sorted(folder.FORMATS), default="tiff", help="label images")
        parser.add_argument(
            "--pixel-size", type=float, help="micrometres per pixel, for areas in um^2 (square pixels)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        version = ModelVersion.objects.filter(pk=options["model_version"]).select_related("project").first()
        if version is None or not version.predicts:
            raise CommandError(
                f"There is no model version {options['model_version']} that predicts (a segmentation "
                "network or a random forest)."
            )
        try:
            files = folder.image_files(options["input"])
            device = choose_device(options["device"] or settings.TRAIN_DEVICE)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from None
        size = options["pixel_size"]
        result = folder.predict_folder(
            model=scoring.model_of(version.pk, device.type),
            context=scoring.context_of(version),
            version_id=version.pk,
            files=files,
            output=options["output"],
            device=device,
            image_format=options["format"],
            pixel_size=None if size is None else (size, size),
            max_pixels=settings.MAX_IMAGE_PIXELS,
            on_error=lambda message: self.stderr.write(f"skipped {message}"),
            progress=lambda paths: tqdm(paths, desc="predict", unit="image"),
        )
        self.stdout.write(
            f"{len(result.written)} images, {result.objects} objects -> {options['output']} "
            f"(measurements.csv)"
        )
        if result.failed:
            raise CommandError(f"{len(result.failed)} of {len(files)} files could not be predicted (above).")
