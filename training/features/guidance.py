"""Guided labelling: which image most needs labels next, and correct-and-retrain in one step.

After each segmentation model version, a prediction job (training/predict/job.py) stores every
image's mean normalised entropy (`Prediction.uncertainty`, 0 = sure, 1 = cannot tell the classes
apart). The
ranking of a project uses the latest model version that predicts masks only (a network or a
random forest: a forest's class probabilities give the same entropy; an "encoder" does not predict):

1. images without human labels (no live scribble, dense mask or tag: what the annotator calls
   "needs labels"; derived pseudo-masks are not human labels), scored by that version, most
   uncertain first;
2. images without human labels that version has not scored yet (uploaded since, or scoring still
   under way), by name;
3. images with human labels, scored, most uncertain first: where corrections help most;
4. images with human labels, not scored yet, by name.

Images in the validation split are left out: their labels judge a model, they never train one,
so labelling effort there does not improve the next version (give them dense masks deliberately).
Inference-only images are left out too: no run learns from them.
Without any segmentation model version there is nothing to rank by, and "next" falls back to the
images without human labels in name order, as the annotator did before.

"Next after image X" walks forward from X in uncertainty order (scored images by uncertainty,
then unscored ones by name), wrapping around: the first image without human labels it meets, else
(every image labelled, and a model to say where it is unsure) the first labelled one. Walking
from X rather than taking the top of the ranking means that skipping an image moves on instead of
bouncing between the two most uncertain ones, and labelling X (which moves it to tier 3) does not
lose the place.

With the team workflow (labeling/workflow.py), "next" for a person walks their own assigned
images that still need work (to do, in progress, changes requested) first, in the same
uncertainty order; then the images above that are nobody else's; submitted and approved images
are done and never offered. With no assignments this is the walk above.

Correct-and-retrain (`version_retrain`) starts a run warm-started from a model version with the
options that version's run was started with, on a label snapshot taken now, so the corrections
just painted over its predictions are what the new run adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labeling import selectors
from labeling.errors import InvalidInput
from labeling.models import HUMAN_KINDS, NOT_TRAINED_ON, ImageStatus, Project
from labeling.workflow import LOCKED, OPEN
from training.models import PREDICTING_KINDS, ModelVersion, Prediction, TrainingRun
from training.runs import create
from training.runs.spec import UnknownOptions, version_spec
from training.strategies import strategy_named, strategy_of


@dataclass(frozen=True)
class Ranked:
    image: int
    name: str
    uncertainty: float | None  # mean normalised entropy under the ranking's model version
    has_labels: bool
    status: str = ImageStatus.TODO  # review status
    assignee: int | None = None  # the id of the member asked to label it

    @property
    def scored(self) -> bool:
        return self.uncertainty is not None


@dataclass(frozen=True)
class Ranking:
    model_version: ModelVersion | None
    images: list[Ranked]  # in rank order (tiers 1-4 of the module docstring)


@dataclass(frozen=True)
class Suggestion:
    """The image that most needs labels, or None, and why."""

    image: int | None
    reason: str
    model_version: int | None
    rank: int | None  # 1-based position in the ranking
    of: int
    uncertainty: float | None = None
    has_labels: bool | None = None
    assigned: bool = False  # one of the images assigned to whoever asked


def latest_predicting_version(project: Project) -> ModelVersion | None:
    return project.model_versions.filter(kind__in=PREDICTING_KINDS).order_by("-created_at", "-id").first()


def uncertainty_ranking(*, project: Project) -> Ranking:
    """The project's images outside the validation split, ranked by what most needs labels."""
    version = latest_predicting_version(project)
    scores: dict[int, float] = {}
    if version is not None:
        rows = Prediction.objects.filter(model_version=version).values_list("image_id", "uncertainty")
        scores = {image_id: value for image_id, value in rows if value is not None}
    images = selectors.with_label_state(selectors.images_of(project).exclude(split__in=NOT_TRAINED_ON))
    entries = [
        Ranked(
            image=image.pk,
            name=image.name,
            uncertainty=scores.get(image.pk),
            has_labels=bool(HUMAN_KINDS.intersection(selectors.label_kinds(image))),
            status=selectors.image_status(image),
            assignee=getattr(selectors.work_of(image), "assignee_id", None),
        )
        for image in images
    ]
    entries.sort(key=lambda entry: (entry.has_labels, *_uncertainty_order(entry)))
    return Ranking(model_version=version, images=entries)


def _uncertainty_order(entry: Ranked) -> tuple[bool, float, str, int]:
    """Scored images, most uncertain first, then unscored ones by name."""
    return (not entry.scored, -(entry.uncertainty or 0.0), entry.name, entry.image)


def next_image(*, project: Project, after: int | None = None, user_id: int | None = None) -> Suggestion:
    """The image that most needs labels, walking on from image `after` (the one open now); for
    user `user_id`, their own assigned images first (the module docstring).

    `after` may be an image outside the ranking (a validation image): the walk then starts at the
    top. The caller checks that it is an image of the project.
    """
    ranking = uncertainty_ranking(project=project)
    walk = sorted(ranking.images, key=_uncertainty_order)
    start = next((k for k, entry in enumerate(walk) if entry.image == after), -1)
    ahead = [entry for entry in walk[start + 1 :] + walk[: start + 1] if entry.image != after]
    mine = [e for e in ahead if user_id is not None and e.assignee == user_id and e.status in OPEN]
    free = [e for e in ahead if e.assignee in (None, user_id) and e.status not in LOCKED]
    pick = next(iter(mine), None) or next((entry for entry in free if not entry.has_labels), None)
    if pick is None and ranking.model_version is not None:
        pick = next(iter(free), None)
    version = ranking.model_version
    if pick is None:
        others = any(e.assignee not in (None, user_id) and e.status in OPEN for e in ahead)
        return Suggestion(
            image=None,
            reason=_nothing_left(ranking, others_have_some=others),
            model_version=version.pk if version else None,
            rank=None,
            of=len(ranking.images),
        )
    rank = ranking.images.index(pick) + 1
    # The first of its tier (the ranking puts unlabelled images before labelled ones).
    most = all(entry.has_labels != pick.has_labels for entry in ranking.images[: rank - 1])
    reason = _reason(pick, version, most=most, others=after is not None)
    return Suggestion(
        image=pick.image,
        reason=f"assigned to you; {reason}" if pick in mine else reason,
        model_version=version.pk if version else None,
        rank=rank,
        of=len(ranking.images),
        uncertainty=pick.uncertainty,
        has_labels=pick.has_labels,
        assigned=pick in mine,
    )


def _reason(pick: Ranked, version: ModelVersion | None, *, most: bool, others: bool) -> str:
    if version is None:
        return "no model version yet: the next image without labels, by name"
    model = f"model v{version.pk}"
    if not pick.scored:
        return f"not scored by {model} yet (new since it was trained, or scoring is under way)"
    uncertain = f"{'most' if most else 'next most'} uncertain"
    entropy = f"mean entropy {pick.uncertainty:.3f}"
    if pick.has_labels:
        every = "every other image has" if others else "every image has"
        return f"{every} labels; {uncertain} labelled image under {model} ({entropy}): correct its prediction"
    return f"{uncertain} under {model} ({entropy})"


def _nothing_left(ranking: Ranking, *, others_have_some: bool = False) -> str:
    if not ranking.images:
        return "No images to label: the project has none outside the validation split."
    if others_have_some:
        return "No other image needs labels from you: the ones left are assigned to others."
    if ranking.model_version is None and all(entry.has_labels for entry in ranking.images):
        return "Every image has labels. Train a model to rank them by its uncertainty."
    return "No other image needs labels."


# Correct-and-retrain ------------------------------------------------------------------------


def version_retrain(*, version: ModelVersion, user: Any) -> TrainingRun:
    """A new run warm-started from `version`, with the options its run was started with, on the
    labels as they are now (a forest, fitted from scratch, is simply fitted again on them). Raises
    InvalidInput (400, nothing created) for a version that predicts nothing (an encoder), or
    whatever run_create refuses (no labels left, channels gone)."""
    if not version.predicts:
        raise InvalidInput(
            f"Model version {version.pk} is a {version.kind} model, not a segmentation model; "
            "retrain from a segmentation model version."
        )
    options = run_options(version.run.config, project=version.project)
    warm = version if strategy_named(options.get("strategy", "labels")).warm_starts else None
    return create.run_create(project=version.project, user=user, options=options, warm_start=warm)


def run_options(config: dict[str, Any], *, project: Project) -> dict[str, Any]:
    """The options run_create needs to make a run like the one whose frozen `config` this is: its
    RunSpec read back, turned into options by its strategy (tests/training/test_guidance.py checks
    the round trip). A config it cannot read is refused rather than retrained with other options."""
    try:
        spec, _ = version_spec(config)
    except UnknownOptions as error:
        raise InvalidInput(
            f"Retrain cannot repeat this run's options ({', '.join(error.names)}); start a run on the "
            "training page with this version as its warm start."
        ) from None
    return strategy_of(spec).options_of(spec, project=project)
