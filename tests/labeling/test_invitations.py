"""Joining a project takes the invitee's consent: an owner invites a user name with a role, and
only the user of that name can accept (and become a member) or decline. Inviting tells nobody
which user names exist: the answer, and the pending list, are the same for a name nobody has."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Invitation, Membership

pytestmark = pytest.mark.django_db


def invite(client, project, username: str, role: str = "annotator"):
    return client.post(
        f"/api/projects/{project.pk}/invitations/", {"username": username, "role": role}, format="json"
    )


def my_invitations(client) -> list[dict]:
    response = client.get("/api/invitations/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def without_name(answer: dict, name: str) -> dict:
    """The answer with what differs between any two invitations taken out: the name, id, times."""
    invitation = {
        key: value
        for key, value in answer["invitation"].items()
        if key not in ("id", "username", "created_at", "expires_at")
    }
    return {"detail": answer["detail"].replace(name, "<name>"), "invitation": invitation}


def test_the_answer_is_the_same_whether_or_not_the_user_name_exists(project, users, client_for):
    owner = client_for("owner")
    real, made_up = invite(owner, project, "stranger"), invite(owner, project, "no-such-person")
    assert real.status_code == made_up.status_code == 202
    assert without_name(real.json(), "stranger") == without_name(made_up.json(), "no-such-person")
    assert "If a user named stranger exists" in real.json()["detail"]
    pending = owner.get(f"/api/projects/{project.pk}/invitations/").json()
    assert [(row["username"], row["role"], row["invited_by"]) for row in pending] == [
        ("stranger", "annotator", "owner"),
        ("no-such-person", "annotator", "owner"),
    ]


def test_an_invited_user_is_no_member_until_they_accept(project, users, client_for):
    invite(client_for("owner"), project, "stranger", role="manager")
    stranger = client_for("stranger")
    assert not Membership.objects.filter(project=project, user=users["stranger"]).exists()
    assert stranger.get(f"/api/projects/{project.pk}/").status_code == 404
    (invitation,) = my_invitations(stranger)
    assert (invitation["project"], invitation["project_name"], invitation["role"]) == (
        project.pk,
        "Nuclei",
        "manager",
    )

    accepted = stranger.post(f"/api/invitations/{invitation['id']}/accept/")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["role"] == "manager"
    assert stranger.get(f"/api/projects/{project.pk}/").json()["role"] == "manager"
    assert my_invitations(stranger) == []
    assert not Invitation.objects.filter(project=project).exists()


def test_declining_removes_the_invitation_and_makes_no_member(project, users, client_for):
    invite(client_for("owner"), project, "stranger")
    stranger = client_for("stranger")
    (invitation,) = my_invitations(stranger)
    assert stranger.post(f"/api/invitations/{invitation['id']}/decline/").status_code == 204
    assert my_invitations(stranger) == []
    assert stranger.post(f"/api/invitations/{invitation['id']}/accept/").status_code == 404
    assert not Membership.objects.filter(project=project, user=users["stranger"]).exists()


@pytest.mark.parametrize("who", ["owner", "manager", "annotator", "viewer"])
def test_only_the_invitee_may_answer_an_invitation(project, users, client_for, who):
    invitation = services.invitation_create(
        project=project, username="stranger", role="viewer", by=users["owner"]
    )
    for answer in ("accept", "decline"):
        response = client_for(who).post(f"/api/invitations/{invitation.pk}/{answer}/")
        assert response.status_code == 404, response.content
    assert my_invitations(client_for(who)) == []
    assert Invitation.objects.filter(pk=invitation.pk).exists()


@pytest.mark.parametrize("who", ["manager", "annotator", "viewer"])
def test_only_owners_invite(project, users, client_for, who):
    response = invite(client_for(who), project, "stranger")
    assert response.status_code == 403
    assert "owner role" in response.json()["detail"]
    assert invite(client_for("stranger"), project, "stranger").status_code == 404
    assert not Invitation.objects.exists()


def test_an_owner_withdraws_a_pending_invitation(project, users, client_for):
    owner = client_for("owner")
    invitation_id = invite(owner, project, "stranger").json()["invitation"]["id"]
    assert owner.delete(f"/api/projects/{project.pk}/invitations/{invitation_id}/").status_code == 204
    assert owner.get(f"/api/projects/{project.pk}/invitations/").json() == []
    assert my_invitations(client_for("stranger")) == []
    assert client_for("stranger").post(f"/api/invitations/{invitation_id}/accept/").status_code == 404
    assert owner.delete(f"/api/projects/{project.pk}/invitations/{invitation_id}/").status_code == 404


def test_inviting_a_member_or_a_pending_name_again_changes_nothing_and_says_so(project, users, client_for):
    owner = client_for("owner")
    member = invite(owner, project, "annotator", role="viewer")
    assert member.status_code == 409
    assert "annotator is already a member" in member.json()["detail"]
    assert project.role_of(users["annotator"]) == "annotator"

    invite(owner, project, "no-such-person", role="viewer")
    again = invite(owner, project, "no-such-person", role="manager")
    assert again.status_code == 409
    assert "already has a pending invitation as viewer" in again.json()["detail"]
    assert list(Invitation.objects.values_list("username", "role")) == [("no-such-person", "viewer")]


def test_an_invitation_lapses_after_the_ttl(project, users, client_for, settings):
    settings.INVITATION_TTL_DAYS = 3
    owner = client_for("owner")
    invitation_id = invite(owner, project, "stranger").json()["invitation"]["id"]
    invitation = Invitation.objects.get(pk=invitation_id)
    assert invitation.expires_at - invitation.created_at == pytest.approx(
        timedelta(days=3), abs=timedelta(seconds=5)
    )

    Invitation.objects.filter(pk=invitation_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    stranger = client_for("stranger")
    assert my_invitations(stranger) == []
    assert stranger.post(f"/api/invitations/{invitation_id}/accept/").status_code == 404
    assert owner.get(f"/api/projects/{project.pk}/invitations/").json() == []
    assert invite(owner, project, "stranger").status_code == 202  # the lapsed one is no obstacle
    assert Invitation.objects.get(username="stranger").pk != invitation_id


def test_the_pending_invitations_of_a_project_are_limited(project, client_for, settings):
    settings.INVITATIONS_PENDING_MAX = 2
    owner = client_for("owner")
    assert [invite(owner, project, name).status_code for name in ("a", "b")] == [202, 202]
    refused = invite(owner, project, "c")
    assert refused.status_code == 400
    assert "INVITATIONS_PENDING_MAX" in refused.json()["detail"]
    assert sorted(Invitation.objects.values_list("username", flat=True)) == ["a", "b"]


def test_an_invitation_to_an_archived_project_cannot_be_accepted(project, users, client_for):
    invitation = services.invitation_create(
        project=project, username="stranger", role="viewer", by=users["owner"]
    )
    services.project_archive(project=project, by=users["owner"])
    stranger = client_for("stranger")
    assert my_invitations(stranger) == []
    assert stranger.post(f"/api/invitations/{invitation.pk}/accept/").status_code == 404
