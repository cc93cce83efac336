from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from PIL import Image as PILImage


class LabelingConfig(AppConfig):
    name = "labeling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Pillow's own guard against decompression bombs follows our limit (it warns above it and
        # refuses twice it); every reader also checks the declared size itself before decoding.
        PILImage.MAX_IMAGE_PIXELS = settings.MAX_IMAGE_PIXELS
