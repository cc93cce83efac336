"""Dramatiq actors of the labeling app (queue "default": light work)."""

from __future__ import annotations

import logging

import dramatiq

from labeling import services
from labeling.models import Image
from webapp import events, jobs, live

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name=jobs.queue_of("render_displays"), max_retries=3, time_limit=30 * 60 * 1000)
def render_displays(image_id: int) -> None:
    """Display renditions and thumbnail of an image too large to render during its upload."""
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        log.info("image %s is gone; nothing to render", image_id)
        return
    made = services.image_render_displays(image=image)
    if made:
        live.publish(image.project_id, events.ImageRendered(image=image.pk, made=made))
        live.flush()
