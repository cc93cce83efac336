"""The review state machine of an image, as pure rules: which move, from which status, by whom.

    to do ──first stroke──> in progress ──submit──> submitted ──approve──> approved
                              ▲    ▲                  │  │                   │
                              │    └────withdraw──────┘  │ request changes   │ request changes
                              │                          ▼  (with a comment) ▼
                              └──────first stroke─── changes requested <─────┘

- "start" is no button: a person's first label saved on an image that is to do (or sent back)
  moves it to in progress (labeling/services/review.py calls `label_save_effect`).
- Annotators submit the images assigned to them (or unassigned ones, which then become theirs)
  and may withdraw what they submitted; managers and owners may do both for anyone.
- Managers and owners approve submitted images, and send back submitted or approved ones with a
  comment saying what to change. Viewers move nothing.
- While an image is submitted or approved its labels are a manager's to touch: an annotator's save
  is refused (423) until it is sent back or withdrawn, so what is reviewed is what was submitted.

A refused move raises NotAllowed (403) when the person's role or relation to the image does not
allow it, Conflict (409) when the image is not in a status the move starts from, InvalidInput
(400) when a needed comment is missing; each message says why and what would work.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from labeling.errors import Conflict, InvalidInput, Locked, NotAllowed
from labeling.models import ROLE_RANK, ImageStatus, Role


class Move(StrEnum):
    START = "start"
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"


# The moves a person asks for (start happens on a label save).
REQUESTED_MOVES = (Move.SUBMIT, Move.WITHDRAW, Move.APPROVE, Move.REQUEST_CHANGES)

# move -> (the statuses it starts from, the status it leads to)
MOVES: dict[Move, tuple[frozenset[ImageStatus], ImageStatus]] = {
    Move.START: (frozenset({ImageStatus.TODO, ImageStatus.CHANGES_REQUESTED}), ImageStatus.IN_PROGRESS),
    Move.SUBMIT: (frozenset({ImageStatus.IN_PROGRESS}), ImageStatus.SUBMITTED),
    Move.WITHDRAW: (frozenset({ImageStatus.SUBMITTED}), ImageStatus.IN_PROGRESS),
    Move.APPROVE: (frozenset({ImageStatus.SUBMITTED}), ImageStatus.APPROVED),
    Move.REQUEST_CHANGES: (
        frozenset({ImageStatus.SUBMITTED, ImageStatus.APPROVED}),
        ImageStatus.CHANGES_REQUESTED,
    ),
}
# How messages say where an image stands: "field-07 is <phrase>".
PHRASES = {
    ImageStatus.TODO: "to do",
    ImageStatus.IN_PROGRESS: "in progress",
    ImageStatus.SUBMITTED: "submitted",
    ImageStatus.CHANGES_REQUESTED: "sent back for changes",
    ImageStatus.APPROVED: "approved",
}
MANAGER_MOVES = frozenset({Move.APPROVE, Move.REQUEST_CHANGES})
# Statuses in which only managers and owners may change the image's labels.
LOCKED = frozenset({ImageStatus.SUBMITTED, ImageStatus.APPROVED})
# Statuses that still ask for labelling work ("my queue", "next needing labels").
OPEN = frozenset({ImageStatus.TODO, ImageStatus.IN_PROGRESS, ImageStatus.CHANGES_REQUESTED})


@dataclass(frozen=True)
class Situation:
    """What a move is judged on: the image, where it stands, and who asks."""

    image: str  # its name, for messages
    status: ImageStatus
    role: Role
    user: str
    assignee: str | None
    submitter: str | None = None  # who moved it to submitted last, while it is submitted


def is_manager(role: Role) -> bool:
    return ROLE_RANK[role] >= ROLE_RANK[Role.MANAGER]


def check_move(move: Move, situation: Situation, *, comment: str = "") -> ImageStatus:
    """The status `move` leads to in this situation; raises NotAllowed, Conflict or InvalidInput."""
    _check_who(move, situation)
    sources, target = MOVES[move]
    if situation.status not in sources:
        raise Conflict(_wrong_status(move, situation))
    if move == Move.REQUEST_CHANGES and not comment.strip():
        raise InvalidInput("Say what to change: requesting changes needs a comment for the annotator.")
    return target


def _check_who(move: Move, s: Situation) -> None:
    role = s.role.label.lower()
    if s.role == Role.VIEWER:
        raise NotAllowed(
            f"You are a viewer in this project: viewers look at images, they do not {_verb(move)}."
        )
    if move in MANAGER_MOVES and not is_manager(s.role):
        raise NotAllowed(
            f"Only managers and owners {_verb(move)}; you are {role} in this project. "
            "Submit the image for review instead."
        )
    if is_manager(s.role) or move == Move.START:
        return
    if move == Move.SUBMIT and s.assignee not in (None, s.user):
        raise NotAllowed(
            f"{s.image} is assigned to {s.assignee}: only {s.assignee} or a manager can submit it."
        )
    if move == Move.WITHDRAW and s.user not in (s.submitter, s.assignee):
        who = s.submitter or s.assignee or "whoever submitted it"
        raise NotAllowed(f"Only {who} (who submitted {s.image}) or a manager can withdraw it.")


def _verb(move: Move) -> str:
    return {
        Move.START: "label images",
        Move.SUBMIT: "submit images",
        Move.WITHDRAW: "withdraw images",
        Move.APPROVE: "approve images",
        Move.REQUEST_CHANGES: "request changes",
    }[move]


def _wrong_status(move: Move, s: Situation) -> str:
    now = f"{s.image} is {PHRASES[s.status]}"
    if move == Move.SUBMIT:
        return {
            ImageStatus.TODO: f"{now}: label it before submitting it.",
            ImageStatus.SUBMITTED: f"{now} already; a manager reviews it now.",
            ImageStatus.APPROVED: f"{now} already; a manager can send it back if it needs changes.",
            ImageStatus.CHANGES_REQUESTED: (
                f"Changes were requested on {s.image}: change its labels before submitting it again."
            ),
        }[s.status]
    if move == Move.WITHDRAW:
        return f"{now}, not submitted: only a submitted image can be withdrawn."
    if move == Move.APPROVE:
        return f"{now}, not submitted: only a submitted image can be approved."
    if move == Move.REQUEST_CHANGES:
        return f"{now}: changes can be requested on submitted or approved images only."
    return f"{now}: it is being labelled already."


def label_save_effect(situation: Situation) -> ImageStatus | None:
    """What a person's label save does to the image's status: the status it moves to (to do and
    changes requested become in progress), None to leave it, or Locked for an annotator's save on
    a submitted or approved image."""
    if situation.role == Role.VIEWER:  # access checks refuse them earlier; never move for them
        return None
    if situation.status in LOCKED and not is_manager(situation.role):
        verb = (
            "withdraw it (or ask a manager to send it back)"
            if situation.status == ImageStatus.SUBMITTED
            else ("ask a manager to send it back")
        )
        raise Locked(
            f"{situation.image} is {PHRASES[situation.status]}: its labels stay as reviewed. "
            f"To change them, {verb}."
        )
    sources, target = MOVES[Move.START]
    return target if situation.status in sources else None
