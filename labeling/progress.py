"""How far the team is: per member and for the whole project, images assigned and where they stand
in review, labelled pixels per class, and time active. Served as JSON and CSV
(GET /api/projects/<id>/progress/ and …/progress.csv) and drawn by the progress page.

- A member's images are those assigned to them now; their counts by status add up to `assigned`.
- Labelled pixels are counted in each image's human label map (scribbles over the dense mask,
  labelmaps.human_label_map): a member's on the images assigned to them, the project's on all. At
  most TEAM_PROGRESS_MAX_IMAGES images are read, the most recently labelled first; `counted_images`
  says how many were.
- Time active comes from when a person saved labels: saves less than TEAM_ACTIVE_GAP_SECONDS apart
  are one stretch of work and count their gap; a longer gap is a break and counts nothing
  (`active_seconds`). The project's time is the sum of its members'.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings

from labeling import labelmaps, selectors, team_selectors
from labeling.models import AnnotationKind, ImageStatus, Project
from labeling.services.review import REVIEWED_KINDS

STATUSES = [str(status) for status in ImageStatus.values]


def active_seconds(times: Sequence[datetime], gap_seconds: float) -> float:
    """The time between consecutive saves that are at most `gap_seconds` apart, summed."""
    ordered = sorted(times)
    total = 0.0
    for before, after in itertools.pairwise(ordered):
        step = (after - before).total_seconds()
        if step <= gap_seconds:
            total += step
    return total


@dataclass
class Tally:
    assigned: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    pixels: dict[str, int] = field(default_factory=dict)  # class name -> labelled pixels
    active_seconds: float = 0.0

    def add_pixels(self, counts: dict[str, int]) -> None:
        for name, count in counts.items():
            self.pixels[name] = self.pixels.get(name, 0) + count


@dataclass
class MemberProgress:
    user: str
    role: str
    tally: Tally


@dataclass
class ProjectProgress:
    images: int
    classes: list[str]
    project: Tally
    members: list[MemberProgress]
    counted_images: int  # images whose label maps were counted


def pixel_counts(label_map: np.ndarray, names: dict[int, str]) -> dict[str, int]:
    """Labelled pixels per class name in a label map (0, unlabelled, is not counted)."""
    counts = np.bincount(label_map.ravel(), minlength=max(names, default=0) + 1)
    return {name: int(counts[index]) for index, name in names.items() if index < len(counts)}


def _image_pixels(project: Project, names: dict[int, str]) -> dict[int, dict[str, int]]:
    """image id -> labelled pixels per class, for the most recently labelled images."""
    by_image = selectors.human_layers_by_recency(project.pk)
    out: dict[int, dict[str, int]] = {}
    for image_id, layers in list(by_image.items())[: settings.TEAM_PROGRESS_MAX_IMAGES]:
        maps = {layer.kind: selectors.label_map_at(layer) for layer in layers}
        human = labelmaps.human_label_map(maps.get(AnnotationKind.DENSE), maps.get(AnnotationKind.SCRIBBLE))
        if human is not None:
            out[image_id] = pixel_counts(human, names)
    return out


def project_progress(project: Project) -> ProjectProgress:
    names = selectors.class_names(project)
    items = team_selectors.work_items(project)
    pixels = _image_pixels(project, names)
    times = team_selectors.revision_times(project, REVIEWED_KINDS)
    gap = settings.TEAM_ACTIVE_GAP_SECONDS
    empty = dict.fromkeys(names.values(), 0)
    members = [
        MemberProgress(user=user, role=role, tally=Tally(pixels=dict(empty)))
        for user, role in team_selectors.members(project)
    ]
    by_user = {member.user: member.tally for member in members}
    whole = Tally(pixels=dict(empty))
    for item in items:
        whole.statuses[item.status] += 1
        whole.add_pixels(pixels.get(item.image, {}))
        tally = by_user.get(item.assignee) if item.assignee else None
        if tally is not None:
            whole.assigned += 1
            tally.assigned += 1
            tally.statuses[item.status] += 1
            tally.add_pixels(pixels.get(item.image, {}))
    for member in members:
        member.tally.active_seconds = active_seconds(times.get(member.user, []), gap)
    whole.active_seconds = sum(member.tally.active_seconds for member in members)
    return ProjectProgress(
        images=len(items),
        classes=[names[index] for index in sorted(names)],
        project=whole,
        members=members,
        counted_images=len(pixels),
    )


def progress_csv(progress: ProjectProgress) -> str:
    """One row per member and a last row for the whole project ("(project)")."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "member",
            "role",
            "assigned",
            *STATUSES,
            "active_seconds",
            *(f"pixels:{name}" for name in progress.classes),
        ]
    )
    rows = [(m.user, m.role, m.tally) for m in progress.members] + [("(project)", "", progress.project)]
    for user, role, tally in rows:
        writer.writerow(
            [
                user,
                role,
                tally.assigned,
                *(tally.statuses[status] for status in STATUSES),
                round(tally.active_seconds),
                *(tally.pixels.get(name, 0) for name in progress.classes),
            ]
        )
    return out.getvalue()
