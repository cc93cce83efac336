"""Asking for an instant preview (training/features/instant.py), from any process, with light imports.

The receiver below is connected in every process at start-up (training/apps.py), web servers
included, so this module imports neither PyTorch nor scikit-learn: it moves the image's request
counter in Redis and queues a message for the `instant_preview` actor by name (webapp/jobs.py).
"""

from __future__ import annotations

from typing import Any

from webapp import jobs


def preview_key(image_id: int) -> str:
    """One Redis hash per image: "wanted" (latest request), "seq", "file", "meta" (latest preview)."""
    return f"lesslabel:instant:{image_id}"


def on_human_labels_saved(sender: object, *, image_id: int, **kwargs: Any) -> None:
    """Receiver of labeling.signals.human_labels_saved (connected in TrainingConfig.ready)."""
    request_preview(image_id)


def request_preview(image_id: int) -> int:
    """Ask for a preview of the image's labels as they are now; returns the request's number."""
    seq = int(jobs.redis_client().hincrby(preview_key(image_id), "wanted", 1))
    jobs.send("instant_preview", image_id, seq)  # training/actors.py
    return seq
