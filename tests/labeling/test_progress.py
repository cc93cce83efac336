"""Progress against a scripted history: images assigned and by status per member and for the
project, labelled pixels per class, time active from revision times; as JSON and as CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from labeling import services
from labeling.models import AnnotationRevision
from labeling.progress import active_seconds
from tests.factories import field_png, png_bytes

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
STATUSES = ["todo", "in_progress", "submitted", "changes_requested", "approved"]


def at(*seconds: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in seconds]


def test_time_active_counts_the_gaps_between_saves_up_to_the_limit():
    assert active_seconds([], 300) == 0
    assert active_seconds(at(0), 300) == 0
    assert active_seconds(at(0, 60, 120, 1000, 1030), 300) == 60 + 60 + 30
    assert active_seconds(at(1030, 0, 60), 300) == 60  # order does not matter
    assert active_seconds(at(0, 300, 601), 300) == 300  # exactly the limit counts; more is a break


def mask(*runs: tuple[int, int, int]) -> bytes:
    """A 32x32 label map holding, for each (start, count, value), `count` pixels of class index
    `value` from pixel `start` on (in reading order); 0 (unlabelled) elsewhere."""
    flat = np.zeros(32 * 32, np.uint8)
    for start, count, value in runs:
        flat[start : start + count] = value
    return png_bytes(flat.reshape(32, 32))


def save(image, author, kind: str, version: int, label_map: bytes, when: float):
    layer = services.annotation_save(
        image=image, author=author, kind=kind, base_version=version, data={}, mask=label_map
    )
    AnnotationRevision.objects.filter(annotation=layer, version=layer.version).update(created_at=at(when)[0])
    return layer


@pytest.fixture
def history(project, users, client_for):
    """field-01 and field-02 assigned to annotator, field-03 to manager, field-04 to nobody;
    annotator labels 01 and 02 and gets 01 approved, manager labels 03."""
    images = [
        services.image_ingest(
            project=project,
            uploader=users["owner"],
            uploads=[services.Upload(f"field-0{k}.png", field_png(k, 32))],
        )[0]
        for k in range(1, 5)
    ]
    annotator, manager = users["annotator"], users["manager"]
    services.images_assign(
        project=project, image_ids=[i.pk for i in images[:2]], assignee=annotator, by=manager
    )
    services.images_assign(project=project, image_ids=[images[2].pk], assignee=manager, by=manager)
    one, two, three = images[:3]
    save(one, annotator, "dense", 0, mask((0, 50, 1)), 0)
    save(two, annotator, "scribble", 0, mask((0, 10, 2)), 60)
    save(two, annotator, "scribble", 1, mask((0, 20, 2)), 120)
    save(one, annotator, "dense", 1, mask((0, 50, 1), (100, 90, 2)), 1000)
    save(one, annotator, "dense", 2, mask((0, 50, 1), (100, 100, 2)), 1030)
    save(three, manager, "dense", 0, mask((0, 30, 1)), 5000)
    services.image_move(image=one, user=annotator, move="submit")
    services.image_move(image=one, user=manager, move="approve")
    return images


def counts(**given: int) -> dict[str, int]:
    return {status: given.get(status, 0) for status in STATUSES}


def test_progress_per_member_and_for_the_project(project, history, client_for):
    report = client_for("viewer").get(f"/api/projects/{project.pk}/progress/").json()
    assert report["images"] == 4 and report["counted_images"] == 3
    assert report["classes"] == ["background", "nucleus"]
    tallies = {member["user"]: member["tally"] for member in report["members"]}
    assert tallies["annotator"] == {
        "assigned": 2,
        "statuses": counts(in_progress=1, approved=1),
        "pixels": {"background": 50, "nucleus": 120},
        "active_seconds": 150.0,
    }
    assert tallies["manager"] == {
        "assigned": 1,
        "statuses": counts(in_progress=1),
        "pixels": {"background": 30, "nucleus": 0},
        "active_seconds": 0.0,
    }
    assert tallies["owner"]["assigned"] == 0 and tallies["owner"]["pixels"] == {"background": 0, "nucleus": 0}
    assert report["project"] == {
        "assigned": 3,
        "statuses": counts(todo=1, in_progress=2, approved=1),
        "pixels": {"background": 80, "nucleus": 120},
        "active_seconds": 150.0,
    }
    assert [member["role"] for member in report["members"]] == ["annotator", "manager", "owner", "viewer"]


def test_the_same_report_as_csv(project, history, client_for):
    response = client_for("annotator").get(f"/api/projects/{project.pk}/progress.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    lines = response.content.decode().splitlines()
    assert lines[0] == (
        "member,role,assigned,todo,in_progress,submitted,changes_requested,approved,active_seconds,"
        "pixels:background,pixels:nucleus"
    )
    assert lines[1] == "annotator,annotator,2,0,1,0,0,1,150,50,120"
    assert lines[2] == "manager,manager,1,0,1,0,0,0,0,30,0"
    assert lines[-1] == "(project),,3,1,2,0,0,1,150,80,120"


def test_labelled_pixels_are_counted_on_at_most_the_configured_number_of_images(
    project, history, client_for, settings
):
    settings.TEAM_PROGRESS_MAX_IMAGES = 1
    report = client_for("viewer").get(f"/api/projects/{project.pk}/progress/").json()
    assert report["counted_images"] == 1  # the most recently labelled one, field-03
    assert report["project"]["pixels"] == {"background": 30, "nucleus": 0}


def test_a_stranger_gets_404(project, client_for):
    assert client_for("stranger").get(f"/api/projects/{project.pk}/progress/").status_code == 404
    assert client_for("stranger").get(f"/api/projects/{project.pk}/progress.csv").status_code == 404
