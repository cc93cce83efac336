"""Invitations' REST API: owners invite, list and withdraw; the invitee lists, accepts, declines.

The rules (one invitation per name, the same answer whether the name exists, lapsing) live in
labeling/services/invitations.py; access is by construction (labeling/access.py): an invitation
that is not addressed to you, or not of a project you own, is 404."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors, services
from labeling.access import invitation_for, project_for, project_invitation_for
from labeling.models import Invitation, Role
from labeling.serializers import InvitationIn, InvitationOut, InvitationSentOut, MembershipOut

ALREADY = OpenApiResponse(
    description="The name is a member already, or has a pending invitation; nothing changed."
)
ANSWERED = OpenApiResponse(description="Answered, withdrawn or lapsed meanwhile; nothing changed.")


class ProjectInvitations(APIView):
    serializer_class = InvitationOut

    @extend_schema(responses=InvitationOut(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        """The project's pending invitations, oldest first (owners)."""
        project = project_for(request.user, project_id, needs=Role.OWNER)
        invitations = selectors.pending_invitations(project.invitations.all())
        return Response(InvitationOut(invitations, many=True).data)

    @extend_schema(request=InvitationIn, responses={202: InvitationSentOut, 409: ALREADY})
    def post(self, request: Request, project_id: int) -> Response:
        """Invite a user name with a role (owners). The answer is the same whether or not a user
        of that name exists; they become a member only by accepting."""
        project = project_for(request.user, project_id, needs=Role.OWNER)
        serializer = InvitationIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(project=project, by=request.user, **serializer.validated_data)
        detail = (
            f"If a user named {invitation.username} exists, they have been invited as {invitation.role}; "
            f"they become a member when they accept (within {settings.INVITATION_TTL_DAYS} days)."
        )
        out = InvitationSentOut({"detail": detail, "invitation": invitation})
        return Response(out.data, status=status.HTTP_202_ACCEPTED)


class ProjectInvitationDetail(APIView):
    @extend_schema(responses={204: None, 409: ANSWERED})
    def delete(self, request: Request, project_id: int, invitation_id: int) -> Response:
        """Withdraw a pending invitation (owners)."""
        invitation = project_invitation_for(request.user, project_id, invitation_id)
        services.invitation_withdraw(invitation=invitation, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyInvitations(generics.ListAPIView[Invitation]):
    """The invitations waiting for your answer, oldest first (each with its project's name)."""

    serializer_class = InvitationOut

    def get_queryset(self) -> QuerySet[Invitation]:
        return selectors.invitations_for(self.request.user)


class InvitationAccept(APIView):
    @extend_schema(request=None, responses={200: MembershipOut, 409: ANSWERED})
    def post(self, request: Request, invitation_id: int) -> Response:
        """Join the project with the invited role (the invitee only)."""
        membership = services.invitation_accept(
            invitation=invitation_for(request.user, invitation_id), user=request.user
        )
        return Response(MembershipOut(membership).data)


class InvitationDecline(APIView):
    @extend_schema(request=None, responses={204: None, 409: ANSWERED})
    def post(self, request: Request, invitation_id: int) -> Response:
        """Decline, and the invitation is gone (the invitee only)."""
        services.invitation_decline(invitation=invitation_for(request.user, invitation_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
