"""Operations on training runs: start, cancel, and the lifecycle the workers move them through.

queued -> running -> succeeded | failed | cancelled. A run is started from a frozen snapshot of
the project's labels (annotation ids and versions), so it trains on exactly what was there when
it was started however people label meanwhile. Workers prove they are alive with a heartbeat; a
run whose heartbeat stops (worker killed, out of memory, machine lost) is marked failed by
`sweep_stale_runs` within RUN_STALE_SECONDS, and its message, if the broker delivers it again,
finds the run finished and does nothing. Failed runs are not re-queued: the person who started
one sees why it failed and starts it again, so a run that kills its worker cannot loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling import selectors
from labeling.errors import Conflict, InvalidInput
from labeling.models import Annotation, AnnotationKind, Channel, Project
from training import tagcam
from training.ml.config import TrainConfig
from training.ml.models import WeightsUnavailable, imagenet_weights_file
from training.ml.scorecam import PSEUDO_MASK_TRAINING
from training.models import FINISHED_STATES, ModelVersion, RunState, TrainingRun
from webapp import live

LABEL_SOURCES = ("scribble", "dense", "derived")
# Bounds on what a run may ask for, so one request cannot hold a worker for days.
MAX_STEPS = 200_000
MAX_PATCH_SIZE = 1024
MAX_BATCH_SIZE = 64
MAX_TRAIN_IMAGES = 100_000
DEFAULT_TRAIN = {"steps": 1000, "steps_per_epoch": 100, "patch_size": 256, "batch_size": 8}


def cancel_key(run_id: int) -> str:
    """The Redis key a cancel sets; the training loop reads it every step (the database is the record)."""
    return f"lesslabel:run:{run_id}:cancel"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


# Starting -----------------------------------------------------------------------------------


def run_create(
    *, project: Project, user: Any, options: dict[str, Any], warm_start: ModelVersion | None = None
) -> TrainingRun:
    """Freeze the labels, validate the strategy, queue the run on the gpu queue."""
    if not isinstance(options, dict):
        raise InvalidInput("config must be a JSON object.")
    options = dict(options)
    strategy = tagcam.parse_strategy(project=project, options=options)
    sources = _label_sources(options.pop("label_sources", ["scribble", "dense", "derived"]))
    derived_sources = _derived_sources(options.pop("derived_sources", None))
    channel_names = options.pop("channels", None)
    preview_count = _int_option(options.pop("preview_images", 3), "preview_images", 0, 8)
    augment = _bool_option(options.pop("test_time_augmentation", False), "test_time_augmentation")
    classes = sorted(selectors.class_indices(project))
    if len(classes) < 2:
        raise InvalidInput(
            "A segmentation model needs at least two classes (for example background and nucleus)."
        )
    snapshot = label_snapshot(project=project, sources=sources, derived_sources=derived_sources)
    if "train_image_limit" in options:  # a point of a label-efficiency study (training/study.py)
        limit = _int_option(options.pop("train_image_limit"), "train_image_limit", 1, MAX_TRAIN_IMAGES)
        snapshot = _first_train_images(snapshot, limit)
    if not snapshot and strategy is None:
        raise InvalidInput(
            f"Nothing to train on: no image of this project has {' or '.join(sources)} labels yet."
        )
    image_ids = sorted(
        set(Annotation.objects.filter(pk__in=[pk for pk, _ in snapshot]).values_list("image_id", flat=True))
        | set(tagcam.tagged_image_ids(strategy) if strategy else [])
    )
    channels = _channels(image_ids, channel_names)
    train = train_config(
        options,
        in_channels=len(channels),
        num_classes=len(classes),
        defaults=PSEUDO_MASK_TRAINING if strategy is not None else {},
    )
    if warm_start is not None:
        check_warm_start(warm_start, train, channels)
    elif train.freeze_encoder and train.encoder_weights is None:
        raise InvalidInput(
            "freeze_encoder keeps the encoder a run starts with: choose a warm start (or ImageNet "
            "weights), or the encoder would stay random."
        )
    config = {
        "train": train.to_dict(),
        "channels": channels,
        # Model class k is the label class with index classes[k] (0 in a label map is "unlabelled").
        "classes": classes,
        "label_sources": sources,
        "preview_count": preview_count,
        # The version scores images as the mean over their 8 rotations and mirror images (8x the time).
        "test_time_augmentation": augment,
    }
    if derived_sources is not None:
        config["derived_sources"] = derived_sources
    if strategy is not None:  # image-level tags -> Score-CAM pseudo-masks first (training/tagcam.py)
        config["strategy"] = strategy
    with transaction.atomic():
        run = TrainingRun.objects.create(
            project=project,
            created_by=user,
            config=config,
            label_snapshot=[[pk, version] for pk, version in snapshot],
            warm_start=warm_start,
        )
        transaction.on_commit(lambda: enqueue(run))
    return run


def enqueue(run: TrainingRun) -> None:
    from training.tasks import train_run

    train_run.send(run.pk)
    publish_state(run)


def label_snapshot(
    *, project: Project, sources: list[str], derived_sources: list[str] | None
) -> list[tuple[int, int]]:
    """(annotation id, version) of the live labels a run learns from: any of `sources` on training
    images, only dense masks on validation images (they score the run, never train it)."""
    return [
        (pk, version)
        for pk, version, kind, split, key in Annotation.objects.filter(
            image__project=project, image__archived_at__isnull=True, is_deleted=False, kind__in=sources
        ).values_list("id", "version", "kind", "image__split", "key")
        if (split != "validation" or kind == AnnotationKind.DENSE)
        and (kind != AnnotationKind.DERIVED or derived_sources is None or key in derived_sources)
    ]


@dataclass(frozen=True)
class SnapshotImages:
    train: list[int]  # by image name, then id: `train_image_limit` k keeps the first k
    validation: list[int]


def snapshot_images(snapshot: list[tuple[int, int]]) -> SnapshotImages:
    """The images a label snapshot covers, training and validation apart."""
    rows = (
        Annotation.objects.filter(pk__in=[pk for pk, _ in snapshot])
        .order_by("image__name", "image_id")
        .values_list("image_id", "image__split")
    )
    train = [image for image, split in rows if split != "validation"]
    validation = [image for image, split in rows if split == "validation"]
    return SnapshotImages(train=list(dict.fromkeys(train)), validation=list(dict.fromkeys(validation)))


def labelled_images(*, project: Project, options: dict[str, Any]) -> SnapshotImages:
    """The images a run with these options (label_sources, derived_sources) would learn from now."""
    sources = _label_sources(options.get("label_sources", ["scribble", "dense", "derived"]))
    derived_sources = _derived_sources(options.get("derived_sources"))
    return snapshot_images(label_snapshot(project=project, sources=sources, derived_sources=derived_sources))


def _first_train_images(snapshot: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """The snapshot's labels of its first `limit` training images, and all its validation labels."""
    images = snapshot_images(snapshot)
    keep = set(images.train[:limit]) | set(images.validation)
    kept = set(
        Annotation.objects.filter(pk__in=[pk for pk, _ in snapshot], image_id__in=keep).values_list(
            "pk", flat=True
        )
    )
    return [(pk, version) for pk, version in snapshot if pk in kept]


def _label_sources(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw or any(source not in LABEL_SOURCES for source in raw):
        raise InvalidInput(f"label_sources must be a non-empty list of {', '.join(LABEL_SOURCES)}.")
    return sorted(set(raw), key=LABEL_SOURCES.index)


def _derived_sources(raw: Any) -> list[str] | None:
    """Which derived layers (by source, e.g. "fluorescence-teacher", "model") a run uses; None = all."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(source, str) and source for source in raw):
        raise InvalidInput(
            'derived_sources must be a non-empty list of sources, e.g. ["fluorescence-teacher"].'
        )
    return sorted(set(raw))


def _int_option(raw: Any, name: str, low: int, high: int) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}.")
    return raw


def _bool_option(raw: Any, name: str) -> bool:
    if not isinstance(raw, bool):
        raise InvalidInput(f"{name} must be true or false.")
    return raw


def _channels(image_ids: list[int], requested: Any) -> list[str]:
    """The input channels, by name, which every labelled image must have."""
    names_by_image: dict[int, list[str]] = {}
    for image_id, name in (
        Channel.objects.filter(image_id__in=image_ids).order_by("index").values_list("image_id", "name")
    ):
        names_by_image.setdefault(image_id, []).append(name)
    if requested is None:
        requested = names_by_image[image_ids[0]]
    if not isinstance(requested, list) or not requested or not all(isinstance(n, str) for n in requested):
        raise InvalidInput("channels must be a non-empty list of channel names.")
    for image_id in image_ids:
        missing = [name for name in requested if name not in names_by_image.get(image_id, [])]
        if missing:
            raise InvalidInput(
                f"Image {image_id} has no channel {', '.join(missing)}; "
                f"it has {', '.join(names_by_image.get(image_id, []))}. "
                "Choose channels that all labelled images have."
            )
    return list(requested)


def train_config(
    options: dict[str, Any], *, in_channels: int, num_classes: int, defaults: dict[str, Any]
) -> TrainConfig:
    """The run's TrainConfig: the options over the strategy's `defaults` over DEFAULT_TRAIN."""
    for fixed in ("in_channels", "num_classes", "extra"):
        if fixed in options:
            raise InvalidInput(f"config.{fixed} is set by the server from the project; leave it out.")
    values = {**DEFAULT_TRAIN, **defaults, **options, "in_channels": in_channels, "num_classes": num_classes}
    try:
        config = TrainConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"Invalid training config: {error}") from None
    if config.steps > MAX_STEPS or config.patch_size > MAX_PATCH_SIZE or config.batch_size > MAX_BATCH_SIZE:
        raise InvalidInput(
            f"Keep steps <= {MAX_STEPS}, patch_size <= {MAX_PATCH_SIZE} and batch_size <= {MAX_BATCH_SIZE}."
        )
    if config.encoder_weights not in (None, "imagenet"):
        raise InvalidInput('encoder_weights must be null or "imagenet".')
    if config.encoder_weights == "imagenet":
        try:  # refused now rather than failing on the worker: weights are never downloaded
            imagenet_weights_file(config.encoder, weights_dir())
        except WeightsUnavailable as error:
            raise InvalidInput(f"{error}.") from None
    return config


def weights_dir() -> Path | None:
    """The configured folder of ImageNet encoder weights, if any (LESSLABEL_WEIGHTS_DIR)."""
    return Path(settings.LESSLABEL_WEIGHTS_DIR) if settings.LESSLABEL_WEIGHTS_DIR else None


def check_warm_start(version: ModelVersion, train: TrainConfig, channels: list[str]) -> None:
    old = TrainConfig.from_dict(version.config["train"])
    if version.config.get("channels") != channels:
        raise InvalidInput(
            f"Model version {version.pk} reads channels {version.config.get('channels')}, "
            f"this run {channels}."
        )
    if (old.architecture, old.encoder) != (train.architecture, train.encoder):
        raise InvalidInput(
            f"Model version {version.pk} is a {old.architecture}/{old.encoder}; "
            f"warm-start a run of the same architecture and encoder."
        )


# Cancelling ---------------------------------------------------------------------------------


def run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one stops within one training step."""
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if locked.state in FINISHED_STATES:
            raise Conflict(f"This run has already {locked.state}.")
        locked.cancel_requested = True
        fields = ["cancel_requested"]
        if locked.state == RunState.QUEUED:
            locked.state, locked.finished_at = RunState.CANCELLED, timezone.now()
            fields += ["state", "finished_at"]
        locked.save(update_fields=fields)
    if locked.state == RunState.RUNNING:
        redis_client().set(cancel_key(locked.pk), 1, ex=7 * 24 * 3600)
    publish_state(locked)
    return locked


# Lifecycle, as the workers drive it ---------------------------------------------------------


def claim(run_id: int, worker: str) -> TrainingRun | None:
    """Move a queued run to running for this worker; None if it is not queued (any more)."""
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=now, heartbeat_at=now, worker=worker
    )
    if not claimed:
        return None
    run = TrainingRun.objects.get(pk=run_id)
    publish_state(run)
    return run


def heartbeat(run_id: int) -> bool:
    """Record that the run's worker is alive; True if a cancel was asked for."""
    TrainingRun.objects.filter(pk=run_id, state=RunState.RUNNING).update(heartbeat_at=timezone.now())
    return TrainingRun.objects.filter(pk=run_id, cancel_requested=True).exists()


def finish(run: TrainingRun, state: RunState, *, error: str = "") -> bool:
    """Record how a running run ended; False if it had already been ended (for example swept)."""
    updated = TrainingRun.objects.filter(pk=run.pk, state=RunState.RUNNING).update(
        state=state, error=error, finished_at=timezone.now()
    )
    run.refresh_from_db()
    if updated:
        transaction.on_commit(lambda: publish_state(run))
        redis_client().delete(cancel_key(run.pk))
    return bool(updated)


def sweep_stale_runs() -> list[int]:
    """Mark failed every running run whose worker stopped sending heartbeats."""
    limit = timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS)
    stale = list(
        TrainingRun.objects.filter(state=RunState.RUNNING).filter(
            Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True)
        )
    )
    swept = []
    for run in stale:
        last = run.heartbeat_at.isoformat(timespec="seconds") if run.heartbeat_at else "never"
        error = (
            f"The worker {run.worker or '(unknown)'} stopped responding (last heartbeat {last}): it was "
            "killed, ran out of memory or lost its machine. Nothing it had half-written was kept; "
            "start the run again."
        )
        if finish(run, RunState.FAILED, error=error):
            swept.append(run.pk)
    return swept


def queue_position(run: TrainingRun) -> int | None:
    """1 for the next run a gpu worker takes, across all projects; None unless queued."""
    if run.state != RunState.QUEUED:
        return None
    ahead = TrainingRun.objects.filter(state=RunState.QUEUED).filter(
        Q(created_at__lt=run.created_at) | Q(created_at=run.created_at, pk__lt=run.pk)
    )
    return ahead.count() + 1


def publish_state(run: TrainingRun) -> None:
    version = ModelVersion.objects.filter(run=run).values_list("pk", flat=True).first()
    live.publish(
        run.project_id,
        {
            "type": "run.state",
            "run": run.pk,
            "state": run.state,
            "queue_position": queue_position(run),
            "error": run.error,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "model_version": version,
        },
    )
    from training import study  # study.py builds on this module, so it is imported here

    study.study_run_changed(run=run, model_version=version)
