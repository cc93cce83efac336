"""Create the demo user and a demo project of synthetic microscopy fields, once.

`make run` calls this on every start; it changes nothing when the demo project exists. The
user's name and password come from DEMO_USER / DEMO_PASSWORD (default demo / demo). Migrations
never create users: this command is the only place a demo login comes from.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from labeling import labelmaps, services
from labeling.imageio import encode_png
from labeling.models import AnnotationKind, Project, Split
from labeling.synthetic import Field, synthetic_field

DEMO_PROJECT = "Demo: synthetic nuclei"
FIELDS = 8
VALIDATION = {6, 7}  # dense masks on these: the honest validation set
SCRIBBLED = {0, 1, 2}


class Command(BaseCommand):
    help = "Create the demo user and the demo project (synthetic images) if they do not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("DEMO_USER", "demo")
        password = os.environ.get("DEMO_PASSWORD", "demo")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = get_user_model().objects.create_user(username=username, password=password)
            self.stdout.write(f"Created demo user {username!r}.")
        if Project.objects.filter(name=DEMO_PROJECT, memberships__user=user).exists():
            self.stdout.write(f"Demo project {DEMO_PROJECT!r} exists; nothing to do.")
            return
        with transaction.atomic():
            project = seed_project(user)
        self.stdout.write(f"Created demo project {DEMO_PROJECT!r} with {FIELDS} images.")
        self.stdout.write(f"Project id {project.pk}.")


def seed_project(user: Any) -> Project:
    project = services.project_create(
        name=DEMO_PROJECT,
        owner=user,
        description="Generated brightfield + fluorescence fields with nuclei: scribbles, tags "
        "and a few dense masks to try every kind of label.",
    )
    nucleus = services.label_class_create(project=project, name="nucleus", color="#e6194b", countable=True)
    for number in range(FIELDS):
        field = synthetic_field(seed=1000 + number, height=256, width=256, nuclei=14)
        (image,) = services.image_ingest(
            project=project,
            uploader=user,
            uploads=[
                services.Upload(f"field-{number:02d}_brightfield.png", encode_png(field.brightfield)),
                services.Upload(f"field-{number:02d}_fluorescence.png", encode_png(field.fluorescence)),
            ],
            channel_names=["brightfield", "fluorescence"],
            name=f"field-{number:02d}",
            split=Split.VALIDATION if number in VALIDATION else Split.TRAIN,
        )
        services.annotation_save(
            image=image,
            author=user,
            kind=AnnotationKind.TAG,
            base_version=0,
            label_class=nucleus,
            data={"present": bool(field.instances.max())},
        )
        if number in VALIDATION:
            dense = np.where(field.mask, nucleus.index, 1).astype(np.uint16)
            services.annotation_save(
                image=image,
                author=user,
                kind=AnnotationKind.DENSE,
                base_version=0,
                data={},
                mask=labelmaps.encode_map(dense),
                instances=labelmaps.encode_map(field.instances),
            )
        elif number in SCRIBBLED:
            services.annotation_save(
                image=image,
                author=user,
                kind=AnnotationKind.SCRIBBLE,
                base_version=0,
                data={"strokes": demo_strokes(field, nucleus.index)},
            )
    return project


def demo_strokes(field: Field, nucleus_index: int) -> list[dict[str, Any]]:
    """A short stroke across the middle of each nucleus and a few strokes of background."""
    strokes = []
    for label in range(1, int(field.instances.max()) + 1):
        ys, xs = np.nonzero(field.instances == label)
        if len(xs) < 20:
            continue
        cy, cx = float(ys.mean()), float(xs.mean())
        strokes.append({"class_index": nucleus_index, "radius": 2.0, "points": [[cx - 3, cy], [cx + 3, cy]]})
    height = field.instances.shape[0]
    for row in (int(0.1 * height), int(0.5 * height), int(0.9 * height)):
        start, stop = longest_run(~field.mask[row])
        if stop - start > 12:
            strokes.append(
                {
                    "class_index": 1,
                    "radius": 2.0,
                    "points": [[start + 4.0, row + 0.5], [stop - 4.0, row + 0.5]],
                }
            )
    return strokes


def longest_run(free: np.ndarray) -> tuple[int, int]:
    """[start, stop) of the longest run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], free, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, stops = edges[::2], edges[1::2]
    if len(starts) == 0:
        return 0, 0
    best = int(np.argmax(stops - starts))
    return int(starts[best]), int(stops[best])
