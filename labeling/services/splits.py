"""The train / validation split: set for a selection of images, or a random hold-out with a seed.

The study and the validation curves depend on the split, so a hold-out is reproducible: the same
live images and the same seed choose the same validation images.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import AnnotationKind, Image, Project, Split
from webapp import events, live


def _check_split(split: str) -> str:
    if split not in Split.values:
        raise InvalidInput(f"Unknown split {split!r}; use one of {', '.join(Split.values)}.")
    return split


@transaction.atomic
def image_split_set(*, project: Project, image_ids: list[int], split: str) -> list[int]:
    """Put these live images of the project into `split`, all or none; their ids, sorted."""
    _check_split(split)
    wanted = set(image_ids)
    if not wanted:
        raise InvalidInput("Name at least one image.")
    images = selectors.images_of(project).filter(pk__in=wanted)
    found = set(images.values_list("pk", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise InvalidInput(f"Images {missing[:20]} are not live images of this project; nothing was changed.")
    images.update(split=split)
    live.publish_on_commit(project.pk, events.ImagesSplit(images=sorted(found), split=split))
    return sorted(found)


@dataclass(frozen=True)
class HoldOut:
    seed: int
    validation: list[int]  # image ids, sorted
    train: int  # how many images are now in the training split


@transaction.atomic
def image_split_hold_out(
    *, project: Project, count: int, seed: int, with_dense_masks: bool = False
) -> HoldOut:
    """Hold out `count` images for validation, chosen at random with `seed`; every other live image
    of the project goes to training.

    A stack counts as one (its planes go together, so no validation plane has a training
    neighbour). With `with_dense_masks`, only images (or stacks) with a dense mask are chosen,
    since validation scores on dense masks.
    """
    units = _units(project, with_dense_masks=with_dense_masks)
    if not 1 <= count <= len(units):
        raise InvalidInput(
            f"Hold out 1 to {len(units)} images{' with dense masks' if with_dense_masks else ''}, "
            f"not {count}."
        )
    chosen = random.Random(seed).sample(sorted(units), count)
    validation = sorted(pk for key in chosen for pk in units[key])
    images = selectors.images_of(project)
    images.filter(pk__in=validation).update(split=Split.VALIDATION)
    train = sorted(images.exclude(pk__in=validation).values_list("pk", flat=True))
    images.filter(pk__in=train).update(split=Split.TRAIN)
    for split, ids in ((Split.VALIDATION, validation), (Split.TRAIN, train)):
        if ids:
            live.publish_on_commit(project.pk, events.ImagesSplit(images=ids, split=str(split)))
    return HoldOut(seed=seed, validation=validation, train=len(train))


def _units(project: Project, *, with_dense_masks: bool) -> dict[tuple[str, int], list[int]]:
    """What is held out together, by a key that sorts the same on every run: (first image name,
    stack id or 0) -> image ids."""
    images = selectors.images_of(project).order_by("name", "pk")
    if with_dense_masks:
        dense = Image.objects.filter(
            annotations__kind=AnnotationKind.DENSE, annotations__is_deleted=False, project=project
        )
        stacks = set(dense.exclude(stack=None).values_list("stack_id", flat=True))
        images = images.filter(pk__in=dense.filter(stack=None)) | images.filter(stack_id__in=stacks)
    units: dict[tuple[str, int], list[int]] = {}
    stack_keys: dict[int, tuple[str, int]] = {}
    for pk, name, stack_id in images.values_list("pk", "name", "stack_id"):
        key = (name, 0) if stack_id is None else stack_keys.setdefault(stack_id, (name, stack_id))
        units.setdefault(key, []).append(pk)
    return units
