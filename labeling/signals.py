"""Signals of the labeling app, for apps that react to labels without labeling importing them.

`human_labels_saved` is how the training app hears that a person's labels changed (it starts an
instant preview, training/features/instant.py) while labeling knows nothing of training. It is sent only
after the transaction that saved commits, so a receiver never reads labels that are not there;
receivers run in the request that saved, so they must be cheap (enqueue, do not compute).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

# kwargs: image_id, project_id, annotation_id, kind ("scribble" | "dense"), version
human_labels_saved = Signal()


def send_human_labels_saved_on_commit(
    *, image_id: int, project_id: int, annotation_id: int, kind: str, version: int
) -> None:
    """Send human_labels_saved once the surrounding transaction commits (never for a rollback).

    A receiver that fails is logged, not raised: the labels are saved whatever it does.
    """

    def send() -> None:
        results = human_labels_saved.send_robust(
            sender=None,
            image_id=image_id,
            project_id=project_id,
            annotation_id=annotation_id,
            kind=kind,
            version=version,
        )
        for receiver, outcome in results:
            if isinstance(outcome, Exception):
                log.error("%s failed on saved labels of image %s", receiver, image_id, exc_info=outcome)

    transaction.on_commit(send)
