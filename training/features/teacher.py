"""The fluorescence teacher in the app: nucleus pseudo-masks from a stain channel, as derived layers.

The classical pipeline (training/ml/fluorescence.py) runs on an image's fluorescence channel; its
nuclei become the chosen class and everything else background, stored as the image's derived layer
with key "fluorescence-teacher" and provenance {source, channel, params}. A run whose input is the
brightfield channel alone then learns to find nuclei where no stain is needed (label_sources
"derived"); human labels on the same image always win (training/runs/snapshot.py).

People keep the last word: the teacher writes a layer only while its latest revision is one the
teacher wrote itself (labeling.selectors.derived_layer_state, the rule every generator follows).
A layer a person painted on, restored, or deleted is never touched again;
deleting it is how an image is *excluded* (`teacher_exclude`), and `teacher_include` regenerates it.
Each image is saved in its own transaction, so a worker killed half-way leaves every image either
as it was or with its complete new layer, and the job can simply be sent again.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage
from skimage.segmentation import find_boundaries

from labeling import labelmaps, selectors, services
from labeling.errors import Conflict, InvalidInput
from labeling.models import Annotation, AnnotationKind, Image, Project
from training.ml.fluorescence import TeacherParams, nucleus_instances
from training.models import RunState, TeacherJob
from webapp import events, jobs, live

log = logging.getLogger(__name__)

SOURCE = "fluorescence-teacher"
DEFAULT_CHANNEL = "fluorescence"
BACKGROUND_INDEX = 1  # every project's first class (labeling.services.project_create)


def parse_params(raw: Any) -> TeacherParams:
    """Pipeline parameters from a request (missing ones take the defaults); 400 on anything else."""
    try:
        return TeacherParams.from_dict({} if raw is None else raw)
    except ValueError as error:
        raise InvalidInput(f"Invalid teacher parameters: {error}") from None


def nucleus_class(project: Project, class_index: int | None) -> int:
    """The class nuclei get: the one asked for, or the project's only class besides background."""
    indices = sorted(selectors.class_indices(project) - {BACKGROUND_INDEX})
    if class_index is None:
        if len(indices) != 1:
            raise InvalidInput(
                f"Say which class the nuclei are (class_index, one of {indices}); "
                "this project has no single class besides background."
            )
        return indices[0]
    if class_index not in indices:
        raise InvalidInput(f"class_index {class_index} is not a class of this project besides background.")
    return class_index


def teacher_plane(image: Image, channel: str) -> np.ndarray:
    """The original pixels of the image's teacher channel; 400 if it has no such channel."""
    found = selectors.channel_named(image, channel)
    if found is None:
        names = selectors.channel_names([image.pk]).get(image.pk, [])
        raise InvalidInput(
            f"Image {image.pk} ({image.name}) has no channel {channel!r}; it has {', '.join(names)}. "
            "Pick the nuclear-stain channel."
        )
    return selectors.channel_plane(found)


# Preview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    objects: int
    png: bytes  # RGBA overlay of the image's size: each nucleus a colour, its outline opaque
    params: TeacherParams


def teacher_preview(*, image: Image, channel: str, params: TeacherParams) -> Preview:
    """What the pipeline finds on one image with these parameters; nothing is stored."""
    instances = nucleus_instances(teacher_plane(image, channel), params)
    return Preview(objects=int(instances.max(initial=0)), png=overlay_png(instances), params=params)


def overlay_png(instances: np.ndarray) -> bytes:
    """An RGBA PNG to lay over the image: nuclei tinted by instance, outlines opaque.

    Shape: instances (H, W) int -> PNG of (H, W, 4) uint8.
    """
    palette = np.random.default_rng(0).integers(64, 256, size=(int(instances.max(initial=0)) + 1, 3))
    rgba = np.zeros((*instances.shape, 4), dtype=np.uint8)
    inside = instances > 0
    rgba[..., :3] = palette[instances]
    rgba[..., 3] = np.where(inside, 90, 0)
    rgba[find_boundaries(instances, mode="inner") & inside, 3] = 255
    buffer = io.BytesIO()
    PILImage.fromarray(rgba, mode="RGBA").save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


# Applying to many images -------------------------------------------------------------------


@transaction.atomic
def teacher_apply_start(
    *,
    project: Project,
    author: Any,
    channel: str,
    params: TeacherParams,
    class_index: int | None,
    image_ids: list[int] | None,
) -> TeacherJob:
    """Check the request, record the job, then queue `apply_fluorescence_teacher` on commit."""
    index = nucleus_class(project, class_index)
    images = selectors.images_of(project)
    if image_ids is not None:
        unknown = sorted(set(image_ids) - set(images.filter(pk__in=image_ids).values_list("pk", flat=True)))
        if unknown:
            raise InvalidInput(f"Images {unknown} are not images of this project.")
        images = images.filter(pk__in=image_ids)
    if not selectors.images_with_channel(images, channel).exists():
        raise InvalidInput(f"No image here has a channel {channel!r}; pick the nuclear-stain channel.")
    job = TeacherJob.objects.create(
        job=uuid.uuid4().hex, project=project, created_by=author, total=images.count()
    )
    ids = None if image_ids is None else sorted(set(image_ids))
    jobs.send_on_commit(
        "apply_fluorescence_teacher",
        job.job,
        project.pk,
        int(author.pk),
        channel,
        params.to_dict(),
        index,
        ids,
    )
    return job


def apply_job(
    job: str,
    project_id: int,
    author_id: int,
    channel: str,
    params: dict[str, Any],
    class_index: int,
    image_ids: list[int] | None,
) -> None:
    """Teacher pseudo-masks for a project's images, with live progress (the actor's body).

    Idempotent: a redelivered message finds the images it already did unchanged and skips them.
    """
    project = selectors.live_project(project_id)
    if project is None:
        log.info("project %s is gone; no teacher pseudo-masks", project_id)
        return
    author = get_user_model().objects.get(pk=author_id)
    try:
        applied = teacher_apply(
            project=project,
            author=author,
            channel=channel,
            params=TeacherParams.from_dict(params),
            class_index=class_index,
            image_ids=image_ids,
            on_image=lambda done, total: job_progress(project_id, job, done, total),
        )
    except Exception as error:
        log.exception("fluorescence teacher job %s failed", job)
        job_failed(project_id, job, f"{type(error).__name__}: {error}")
        raise
    job_finished(project_id, job, channel, applied)


@dataclass
class Applied:
    made: list[int] = field(default_factory=list)  # a new teacher layer
    unchanged: list[int] = field(default_factory=list)  # already made with these very settings
    kept: list[int] = field(default_factory=list)  # painted on or restored by a person
    excluded: list[int] = field(default_factory=list)  # its layer was deleted: left out
    missing: list[int] = field(default_factory=list)  # has no such channel


def teacher_apply(
    *,
    project: Project,
    author: Any,
    channel: str,
    params: TeacherParams,
    class_index: int,
    image_ids: list[int] | None = None,
    on_image: Callable[[int, int], None] | None = None,
) -> Applied:
    """Teacher layers for the project's images (or the listed ones), one transaction per image.

    `on_image(done, total)` is called after each image.
    """
    images = selectors.images_of(project).order_by("name", "pk")
    if image_ids is not None:
        images = images.filter(pk__in=image_ids)
    todo = list(images)
    applied = Applied()
    for done, image in enumerate(todo, start=1):
        outcome = _apply_one(image, author, channel, params, class_index)
        getattr(applied, outcome).append(image.pk)
        if on_image is not None:
            on_image(done, len(todo))
    return applied


def provenance(channel: str, params: TeacherParams, class_index: int) -> dict[str, Any]:
    return {"source": SOURCE, "channel": channel, "params": params.to_dict(), "class_index": class_index}


def _apply_one(image: Image, author: Any, channel: str, params: TeacherParams, class_index: int) -> str:
    head = teacher_layer(image)
    wanted = provenance(channel, params, class_index)
    if head is not None:
        state = layer_state(head)
        if state != "teacher":
            return state
        if selectors.latest_provenance(head) == wanted:
            return "unchanged"
    if selectors.channel_named(image, channel) is None:
        return "missing"
    mask = pseudo_mask(teacher_plane(image, channel), params, class_index)
    if (
        services.derived_layer_save(image=image, author=author, head=head, provenance=wanted, mask=mask)
        is None
    ):
        return "kept"  # someone saved the layer meanwhile: theirs stands
    return "made"


def pseudo_mask(plane: np.ndarray, params: TeacherParams, class_index: int) -> np.ndarray:
    """Label map of one image: the nucleus class on the teacher's nuclei, background elsewhere.

    Shape: plane (H, W) -> (H, W) uint16 label map (values are class indices).
    """
    nuclei = nucleus_instances(plane, params) > 0
    return np.where(nuclei, class_index, BACKGROUND_INDEX).astype(np.uint16)


def teacher_layer(image: Image) -> Annotation | None:
    return selectors.derived_layer(image, SOURCE)


# The teacher page's words for labeling.selectors.derived_layer_state.
STATE_NAMES = {"generated": "teacher", "touched": "kept", "deleted": "excluded"}


def layer_state(head: Annotation) -> str:
    """ "teacher" while the teacher's own output is the latest revision; "excluded" once deleted;
    "kept" once a person painted on it or restored an older version."""
    return STATE_NAMES[selectors.derived_layer_state(head)]


def job_progress(project_id: int, job: str, done: int, total: int) -> None:
    """Record and publish that `done` of `total` images are through."""
    TeacherJob.objects.filter(job=job).update(
        state=RunState.RUNNING, done=done, total=total, updated_at=timezone.now()
    )
    live.publish(project_id, events.TeacherProgress(job=job, done=done, total=total))


def job_finished(project_id: int, job: str, channel: str, applied: Applied) -> None:
    summary = asdict(applied)
    TeacherJob.objects.filter(job=job).update(
        state=RunState.SUCCEEDED, summary=summary, error="", updated_at=timezone.now()
    )
    live.publish(project_id, events.TeacherFinished(job=job, channel=channel, **summary))
    live.flush()


def job_failed(project_id: int, job: str, failure: str) -> None:
    """Record the failure; a retry of the message (the actor's max_retries) sets it running again."""
    TeacherJob.objects.filter(job=job).update(state=RunState.FAILED, error=failure, updated_at=timezone.now())
    live.publish(project_id, events.TeacherFailed(job=job, error=failure))
    live.flush()


def latest_job(project: Project) -> dict[str, Any] | None:
    """The project's last teacher job as the teacher page shows it, or None if there was none.

    `idle_seconds` is how long ago it last moved: a queued or running job that sits idle for long
    is waiting for a worker (one that died has its message redelivered).
    """
    job = project.teacher_jobs.first()
    if job is None:
        return None
    return {
        "job": job.job,
        "state": job.state,
        "done": job.done,
        "total": job.total,
        "summary": job.summary,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "idle_seconds": round((timezone.now() - job.updated_at).total_seconds(), 1),
    }


# Excluding and including one image ----------------------------------------------------------


@transaction.atomic
def teacher_exclude(*, image: Image, author: Any) -> Annotation:
    """Drop the image's teacher layer (a deleting revision) so that applying skips it from now on.

    An image with no layer yet gets an empty one, deleted at once: the deletion is the record.
    """
    head = teacher_layer(image)
    if head is not None and head.is_deleted:
        raise Conflict("This image is already excluded from the fluorescence teacher.")
    if head is None:
        empty = labelmaps.empty_map(width=image.width, height=image.height)
        head = services.annotation_save(
            image=image,
            author=author,
            kind=AnnotationKind.DERIVED,
            base_version=0,
            data={"strokes": [], "provenance": {"source": SOURCE, "excluded": True}},
            mask=labelmaps.encode_map(empty),
        )
    return services.annotation_delete(annotation=head, author=author, base_version=head.version)


def teacher_include(
    *, image: Image, author: Any, channel: str, params: TeacherParams, class_index: int | None
) -> Annotation:
    """Bring an excluded image back: its teacher layer is made again with these parameters."""
    head = teacher_layer(image)
    if head is None or not head.is_deleted:
        raise Conflict("This image is not excluded from the fluorescence teacher.")
    index = nucleus_class(image.project, class_index)
    mask = pseudo_mask(teacher_plane(image, channel), params, index)
    return services.annotation_save(
        image=image,
        author=author,
        kind=AnnotationKind.DERIVED,
        base_version=head.version,
        data={"strokes": [], "provenance": provenance(channel, params, index)},
        mask=labelmaps.encode_map(mask),
    )


def teacher_overview(project: Project) -> dict[str, Any]:
    """The teacher page's data: defaults, each image's channels and teacher state, the last job."""
    states = teacher_states(project)
    images = list(selectors.images_of(project).order_by("name", "pk"))
    channels = selectors.channel_names(image.pk for image in images)
    return {
        "source": SOURCE,
        "channel": DEFAULT_CHANNEL,
        "defaults": TeacherParams().to_dict(),
        "job": latest_job(project),
        "images": [
            {
                "id": image.pk,
                "name": image.name,
                "width": image.width,
                "height": image.height,
                "channels": channels.get(image.pk, []),
                "state": states[image.pk],
            }
            for image in images
        ],
    }


def teacher_states(project: Project) -> dict[int, str]:
    """image id -> "none" | "teacher" | "kept" | "excluded", for the teacher page's list."""
    heads = selectors.derived_layers(project, SOURCE)
    return {
        image_id: layer_state(heads[image_id]) if image_id in heads else "none"
        for image_id in selectors.images_of(project).values_list("pk", flat=True)
    }
