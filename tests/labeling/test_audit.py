"""The audit list: invitations, role changes, removals, class and project edits are recorded with
who and when, and listed (newest first) for owners only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from labeling.models import AuditEntry

pytestmark = pytest.mark.django_db


def entries(client, project) -> list[tuple[str | None, str, str, dict]]:
    response = client.get(f"/api/projects/{project.pk}/audit/")
    assert response.status_code == 200, response.content
    return [
        (row["actor"], row["action"], row["subject"], row["details"]) for row in response.json()["results"]
    ]


def test_membership_and_settings_changes_are_listed_for_owners_newest_first(
    project, users, nucleus, client_for
):
    AuditEntry.objects.filter(project=project).delete()  # what the fixture's setup recorded
    newcomer = get_user_model().objects.create_user(username="newcomer", password="x")
    owner, manager = client_for("owner"), client_for("manager")
    for name in ("newcomer", "nobody", "ghost"):
        owner.post(
            f"/api/projects/{project.pk}/invitations/", {"username": name, "role": "viewer"}, format="json"
        )
    (pending,) = [
        row
        for row in owner.get(f"/api/projects/{project.pk}/invitations/").json()
        if row["username"] == "ghost"
    ]
    owner.delete(f"/api/projects/{project.pk}/invitations/{pending['id']}/")
    invited = APIClient()
    invited.force_login(newcomer)
    (invitation,) = invited.get("/api/invitations/").json()["results"]
    invited.post(f"/api/invitations/{invitation['id']}/accept/")
    owner.patch(f"/api/projects/{project.pk}/members/{newcomer.pk}/", {"role": "annotator"}, format="json")
    owner.patch(
        f"/api/projects/{project.pk}/members/{newcomer.pk}/", {"role": "annotator"}, format="json"
    )  # no change
    owner.delete(f"/api/projects/{project.pk}/members/{newcomer.pk}/")
    manager.post(
        f"/api/projects/{project.pk}/classes/", {"name": "debris", "color": "#00ff00"}, format="json"
    )
    manager.patch(
        f"/api/projects/{project.pk}/classes/{nucleus.pk}/",
        {"name": "nuclei", "color": "#ff0000"},
        format="json",
    )
    manager.patch(f"/api/projects/{project.pk}/", {"name": "Nuclei 2024"}, format="json")
    assert entries(owner, project) == [
        ("manager", "project.changed", "Nuclei 2024", {"name": {"from": "Nuclei", "to": "Nuclei 2024"}}),
        ("manager", "class.changed", "nucleus", {"name": {"from": "nucleus", "to": "nuclei"}}),
        ("manager", "class.added", "debris", {"index": 3, "color": "#00ff00", "countable": False}),
        ("owner", "member.removed", "newcomer", {"role": "annotator"}),
        ("owner", "member.role_changed", "newcomer", {"role": {"from": "viewer", "to": "annotator"}}),
        ("newcomer", "member.added", "newcomer", {"role": "viewer"}),
        ("owner", "invitation.withdrawn", "ghost", {"role": "viewer"}),
        ("owner", "member.invited", "ghost", {"role": "viewer"}),
        ("owner", "member.invited", "nobody", {"role": "viewer"}),
        ("owner", "member.invited", "newcomer", {"role": "viewer"}),
    ]
    row = owner.get(f"/api/projects/{project.pk}/audit/").json()["results"][-1]
    assert row["what"] == "Member invited" and row["at"]


def test_a_new_project_starts_its_list_and_removing_a_class_is_recorded(users, client_for):
    owner = client_for("owner")
    project = owner.post("/api/projects/", {"name": "Plate 3"}, format="json").json()
    added = owner.post(f"/api/projects/{project['id']}/classes/", {"name": "cell"}, format="json").json()
    owner.delete(f"/api/projects/{project['id']}/classes/{added['id']}/")
    rows = owner.get(f"/api/projects/{project['id']}/audit/").json()["results"]
    assert [(row["actor"], row["action"], row["subject"]) for row in rows] == [
        ("owner", "class.removed", "cell"),
        ("owner", "class.added", "cell"),
        ("owner", "project.created", "Plate 3"),
    ]


@pytest.mark.parametrize(
    ("who", "status"), [("manager", 403), ("annotator", 403), ("viewer", 403), ("stranger", 404)]
)
def test_only_owners_read_the_audit_list(who, status, project, client_for):
    assert client_for(who).get(f"/api/projects/{project.pk}/audit/").status_code == status
