""" "Next needing labels" with the team workflow: my assigned images that still need work first, in
the model's uncertainty order when there is a model (by name without one); then images that are
nobody else's; submitted and approved images are never offered."""

from __future__ import annotations

import pytest

from labeling import services
from labeling.models import ImageWork
from tests.training.test_guidance import add_image, add_version, next_image, scribble

pytestmark = pytest.mark.django_db

NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


@pytest.fixture
def fields(project, users):
    return {name: add_image(project, users["owner"], name) for name in NAMES}


def assign(project, users, fields, names, who: str) -> None:
    services.images_assign(
        project=project, image_ids=[fields[n].pk for n in names], assignee=users[who], by=users["manager"]
    )


def walk(client, project, fields, steps: int) -> list[str]:
    """The names "next" opens, following it from nowhere `steps` times."""
    by_id = {image.pk: name for name, image in fields.items()}
    seen, after = [], None
    for _ in range(steps):
        answer = next_image(client, project, after)
        if answer["image"] is None:
            seen.append(answer["reason"])
            break
        after = fields[by_id[answer["image"]["id"]]]
        seen.append(by_id[answer["image"]["id"]])
    return seen


def test_without_a_model_my_images_come_first_by_name_then_the_unassigned(project, users, fields, client_for):
    assign(project, users, fields, ["delta", "bravo"], "annotator")
    assign(project, users, fields, ["alpha"], "manager")
    annotator = client_for("annotator")
    first = next_image(annotator, project)
    assert first["image"]["name"] == "bravo" and first["assigned"] is True
    assert first["reason"].startswith("assigned to you; no model version yet")
    # "Next" goes round my open images until they are done (here: submitted) ...
    assert walk(annotator, project, fields, 3) == ["bravo", "delta", "bravo"]
    ImageWork.objects.filter(image__in=[fields["bravo"], fields["delta"]]).update(status="submitted")
    # ... then on to nobody's (charlie, echo, foxtrot); alpha is the manager's.
    assert walk(annotator, project, fields, 2) == ["charlie", "echo"]


def test_with_a_model_my_images_come_by_uncertainty_and_labelled_ones_of_mine_still_count(
    project, users, fields, client_for
):
    uncertainty = {"alpha": 0.9, "bravo": 0.2, "charlie": 0.5, "delta": 0.7, "echo": 0.3, "foxtrot": 0.1}
    add_version(project, users["owner"], {fields[n]: u for n, u in uncertainty.items()})
    assign(project, users, fields, ["bravo", "delta", "foxtrot"], "annotator")
    scribble(fields["delta"], users["annotator"])  # in progress: still mine to finish
    annotator = client_for("annotator")
    answer = next_image(annotator, project)
    assert answer["image"]["name"] == "delta" and answer["assigned"]
    assert answer["reason"].startswith("assigned to you; ")
    # Mine by uncertainty: delta 0.7, bravo 0.2, foxtrot 0.1, round again while they are open.
    assert walk(annotator, project, fields, 4) == ["delta", "bravo", "foxtrot", "delta"]
    # Once they are submitted: the unassigned unlabelled ones by uncertainty, alpha 0.9 first.
    ImageWork.objects.filter(assignee=users["annotator"]).update(status="submitted")
    assert walk(annotator, project, fields, 3) == ["alpha", "charlie", "echo"]


def test_submitted_and_approved_images_and_others_images_are_not_offered(project, users, fields, client_for):
    assign(project, users, fields, list(NAMES[:4]), "manager")
    assign(project, users, fields, ["echo", "foxtrot"], "annotator")
    ImageWork.objects.filter(image__in=[fields["echo"], fields["foxtrot"]]).update(status="submitted")
    ImageWork.objects.filter(image=fields["foxtrot"]).update(status="approved")
    answer = next_image(client_for("annotator"), project)
    assert answer["image"] is None
    assert answer["reason"] == "No other image needs labels from you: the ones left are assigned to others."
    mine = next_image(client_for("manager"), project)
    assert mine["image"]["name"] == "alpha" and mine["assigned"]
