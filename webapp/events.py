"""Every live event a project's pages can hear, as typed definitions: the one list of them.

Publishers build these (`live.publish(project_id, RunProgress(...))`), the socket sends their JSON
(`to_json()`: "type" first, then the fields), and the front end's TypeScript types are generated
from this module (`python -m webapp.events > frontend/src/api/events.gen.ts`, checked by
tests/webapp/test_events.py), so a field renamed here breaks the front end's build, not a page.

Every event a publisher sends also carries "at", the Unix time it was made (webapp/live.py).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

EVENTS: dict[str, type[Event]] = {}


@dataclass(frozen=True, kw_only=True)
class Event:
    TYPE: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" not in cls.__dict__:  # a shared base of several events, like RunPoint
            return
        if cls.TYPE in EVENTS:
            raise TypeError(f"two events are called {cls.TYPE!r}")
        EVENTS[cls.TYPE] = cls

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, **asdict(self)}


# Labels and images ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LabelsChanged(Event):
    TYPE = "labels.changed"
    image: int
    annotation: int
    kind: str
    key: str
    version: int
    deleted: bool
    user: str


@dataclass(frozen=True, kw_only=True)
class ImageRendered(Event):
    TYPE = "image.rendered"
    image: int
    made: list[str]


@dataclass(frozen=True, kw_only=True)
class ImagesSplit(Event):
    """These images were put in the train, validation or unassigned split."""

    TYPE = "images.split"
    images: list[int]
    split: str


# Team workflow -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ImagesAssigned(Event):
    """Images were given to a member (assignee) or taken back (assignee null)."""

    TYPE = "images.assigned"
    images: list[int]
    assignee: str | None
    by: str


@dataclass(frozen=True, kw_only=True)
class ImageStatusChanged(Event):
    """An image moved in review (labeling/workflow.py); `note` is the comment that came with it."""

    TYPE = "image.status"
    image: int
    name: str
    status: str
    previous: str
    move: str
    by: str
    assignee: str | None
    comment: int | None
    note: str


@dataclass(frozen=True, kw_only=True)
class CommentAdded(Event):
    TYPE = "comment.added"
    comment: int
    thread: int  # the comment that opened the thread (itself for a new thread)
    image: int
    image_name: str
    author: str
    body: str
    x: float | None
    y: float | None


@dataclass(frozen=True, kw_only=True)
class CommentResolved(Event):
    TYPE = "comment.resolved"
    comment: int
    image: int
    resolved: bool
    by: str


# Training runs -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RunState(Event):
    TYPE = "run.state"
    run: int
    state: str
    queue_position: int | None
    error: str
    started_at: str | None
    finished_at: str | None
    model_version: int | None


@dataclass(frozen=True, kw_only=True)
class RunPoint(Event):
    """A point of a run's curves: stored as a RunMetric with the same seq before it is sent, so a
    page that loaded the points so far continues with the events whose seq is larger."""

    run: int
    seq: int
    step: int
    epoch: int


@dataclass(frozen=True, kw_only=True)
class RunProgress(RunPoint):
    TYPE = "run.progress"
    steps: int
    loss: float
    learning_rate: float
    samples_per_second: float
    eta_seconds: float


@dataclass(frozen=True, kw_only=True)
class RunValidation(RunPoint):
    TYPE = "run.validation"
    train_loss: float
    metrics: dict[str, float]
    is_best: bool


@dataclass(frozen=True, kw_only=True)
class RunPreview(RunPoint):
    TYPE = "run.preview"
    image: int
    url: str


@dataclass(frozen=True, kw_only=True)
class RunStage(RunPoint):
    """Progress of a stage before the segmentation training (the tag classifier, Score-CAM maps)."""

    TYPE = "run.stage"
    stage: str
    done: int
    total: int
    loss: float | None = None


# Predictions -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScoredImage:
    image: int
    prediction: int
    uncertainty: float | None
    mask_url: str
    counts: dict[str, int]  # class index -> objects, countable classes


@dataclass(frozen=True, kw_only=True)
class PredictionsReady(Event):
    """Predictions stored since the last such event (of a job asked for, or scoring after a run)."""

    TYPE = "predictions.ready"
    model_version: int
    run: int
    predictions: list[ScoredImage]


@dataclass(frozen=True, kw_only=True)
class PredictionJobPoint(Event):
    """Where a prediction job stands: `done` of `total` images through (skipped ones included)."""

    job: int
    model_version: int
    state: str
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class PredictionProgress(PredictionJobPoint):
    TYPE = "prediction.progress"


@dataclass(frozen=True, kw_only=True)
class PredictionDone(PredictionJobPoint):
    """A prediction job ended: succeeded, failed (with why) or cancelled."""

    TYPE = "prediction.done"
    skipped: list[int]  # images it could not predict (the job's record says why)
    error: str


@dataclass(frozen=True, kw_only=True)
class PseudoMasksReady(Event):
    TYPE = "pseudo_masks.ready"
    model_version: int
    source: str
    made: list[int]
    kept: list[int]


# The fluorescence teacher --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TeacherProgress(Event):
    TYPE = "teacher.progress"
    job: str
    done: int
    total: int


@dataclass(frozen=True, kw_only=True)
class TeacherFinished(Event):
    TYPE = "teacher.finished"
    job: str
    channel: str
    made: list[int]
    unchanged: list[int]
    kept: list[int]
    excluded: list[int]
    missing: list[int]


@dataclass(frozen=True, kw_only=True)
class TeacherFailed(Event):
    TYPE = "teacher.failed"
    job: str
    error: str


# Instant previews ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PreviewPoint(Event):
    """What became of request `seq` for the image's instant preview (training/features/instant.py)."""

    image: int
    seq: int


@dataclass(frozen=True, kw_only=True)
class PreviewReady(PreviewPoint):
    TYPE = "preview.ready"
    url: str
    labels: list[list[int]]  # [annotation id, version] of every layer it learnt from
    images: int
    classes: list[int]
    size: list[int]  # [height, width] at preview scale
    seconds: float


@dataclass(frozen=True, kw_only=True)
class PreviewSkipped(PreviewPoint):
    TYPE = "preview.skipped"
    detail: str


@dataclass(frozen=True, kw_only=True)
class PreviewFailed(PreviewPoint):
    TYPE = "preview.failed"
    error: str


# Label-efficiency studies --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StudyPoint(Event):
    TYPE = "study.point"
    study: int
    size: int
    run: int
    state: str
    model_version: int | None
    pixel_f1: float | None
    train_images: int | None


@dataclass(frozen=True, kw_only=True)
class StudyState(Event):
    TYPE = "study.state"
    study: int
    state: str
    sizes: list[int]


# The socket's own messages (webapp/consumers.py) ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Present:
    user: str
    image: int | None
    session: str


@dataclass(frozen=True, kw_only=True)
class Hello(Event):
    """The first message on a socket: who the user is there and who else has the project open."""

    TYPE = "hello"
    project: int
    user: str
    role: str
    present: list[Present]


@dataclass(frozen=True, kw_only=True)
class Presence(Event):
    TYPE = "presence"
    user: str
    session: str
    image: int | None
    left: bool


@dataclass(frozen=True, kw_only=True)
class MemberRemoved(Event):
    """A member left the project or was removed: their open sockets get this, then close (4403)."""

    TYPE = "member.removed"
    user: str


@dataclass(frozen=True, kw_only=True)
class Pong(Event):
    TYPE = "pong"


@dataclass(frozen=True, kw_only=True)
class SocketError(Event):
    TYPE = "error"
    detail: str


# TypeScript ----------------------------------------------------------------------------------


def _ts_type(hint: Any, shapes: dict[str, type]) -> str:
    """The TypeScript spelling of a field's type; nested dataclasses are collected in `shapes`."""
    origin = typing.get_origin(hint)
    if hint is type(None):
        return "null"
    if hint in (int, float):
        return "number"
    if hint is str:
        return "string"
    if hint is bool:
        return "boolean"
    if hint is Any:
        return "unknown"
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        shapes[hint.__name__] = hint
        return hint.__name__
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_ts_type(arg, shapes) for arg in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        inner = _ts_type(item, shapes)
        return f"({inner})[]" if " " in inner else f"{inner}[]"
    if origin is dict:
        key, value = typing.get_args(hint)
        return f"Record<{_ts_type(key, shapes)}, {_ts_type(value, shapes)}>"
    raise TypeError(f"no TypeScript spelling for {hint!r}: use int, float, str, bool, lists, dicts")


def _ts_interface(
    name: str, cls: type, shapes: dict[str, type], head: list[str], *, base: type | None = None
) -> str:
    """An interface of the dataclass's fields; with a `base`, it extends the base's interface and
    lists only the fields the base does not have."""
    hints = typing.get_type_hints(cls)
    inherited = {field.name for field in dataclasses.fields(base)} if base else set()
    lines = [f"export interface {name}{f' extends {base.__name__}' if base else ''} {{", *head]
    for field in dataclasses.fields(cls):
        if field.name in inherited:
            continue
        optional = "?" if field.default is not dataclasses.MISSING else ""
        lines.append(f"  {field.name}{optional}: {_ts_type(hints[field.name], shapes)};")
    return "\n".join([*lines, "}"])


def _shared_base(cls: type[Event]) -> type[Event] | None:
    """The base the event shares with others (RunPoint, ...): the one below Event, if any."""
    base = cls.__bases__[0]
    return None if base is Event else base


def typescript() -> str:
    """TypeScript interfaces of every event, a `LiveEvent` union and `EventOf<"run.state">`."""
    shapes: dict[str, type] = {}
    bases: dict[str, type] = {}
    blocks = []
    for kind, cls in EVENTS.items():
        head = [f'  type: "{kind}";', "  at?: number;"]
        base = _shared_base(cls)
        if base is not None:
            bases.setdefault(base.__name__, base)
        blocks.append(_ts_interface(cls.__name__ + "Event", cls, shapes, head, base=base))
    shared = [_ts_interface(name, cls, shapes, []) for name, cls in bases.items()]
    nested = [_ts_interface(name, cls, shapes, []) for name, cls in sorted(shapes.items())]
    names = [cls.__name__ + "Event" for cls in EVENTS.values()]
    union = "export type LiveEvent =\n" + "\n".join(f"  | {name}" for name in names) + ";"
    return (
        "\n\n".join(
            [
                "// Generated by `python -m webapp.events` from webapp/events.py: do not edit.",
                *nested,
                *shared,
                *blocks,
                union,
                'export type EventType = LiveEvent["type"];',
                "export type EventOf<T extends EventType> = Extract<LiveEvent, { type: T }>;",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.stdout.write(typescript())
