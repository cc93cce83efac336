from __future__ import annotations

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A person's saved labels ask for an instant preview (labeling does not import training).
        # The receiver's module is light: web processes do not load PyTorch to start.
        from labeling.signals import human_labels_saved
        from training.features import preview_requests

        human_labels_saved.connect(preview_requests.on_human_labels_saved, dispatch_uid="training.instant")
