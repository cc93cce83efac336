"""The team workflow's REST API: assignments, review moves and the review queue, comments, progress
and the audit list. Each view parses, checks access, calls one service (or reads) and replies;
the rules of who may move an image where live in labeling/workflow.py."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import progress, selectors, services, team_selectors
from labeling.access import image_for, project_for, require_role
from labeling.errors import InvalidInput
from labeling.models import AuditEntry, Comment, Image, Role
from labeling.team_serializers import (
    AssignIn,
    AssignOut,
    AuditOut,
    CommentIn,
    CommentOut,
    MoveIn,
    ResolveIn,
    ShareIn,
    ShareOut,
    WaitingOut,
    WorkOut,
)
from webapp.rest import valid_input

# Assignments ---------------------------------------------------------------------------------


class AssignImages(APIView):
    @extend_schema(request=AssignIn, responses=AssignOut)
    def post(self, request: Request, project_id: int) -> Response:
        """Assign a selection of images to a member, or to nobody (managers)."""
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        fields = valid_input(AssignIn, request.data, context={"project": project})
        ids = services.images_assign(
            project=project, image_ids=fields["images"], assignee=fields["assignee"], by=request.user
        )
        assignee = fields["assignee"].username if fields["assignee"] else None
        return Response(AssignOut({"images": ids, "assignee": assignee}).data)


class ShareImages(APIView):
    @extend_schema(request=ShareIn, responses=ShareOut)
    def post(self, request: Request, project_id: int) -> Response:
        """Deal the images nobody has labelled or taken yet evenly among these annotators (managers)."""
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        fields = valid_input(ShareIn, request.data, context={"project": project})
        shares = services.images_share(
            project=project, annotators=fields["annotators"], count=fields["count"], by=request.user
        )
        return Response(ShareOut({"shares": shares}).data)


# Review --------------------------------------------------------------------------------------


def _work_out(image: Image) -> dict[str, Any]:
    work = selectors.work_of(image)
    history = team_selectors.status_history(image)
    if work is None:
        return {
            "image": image.pk,
            "status": selectors.image_status(image),
            "assignee": None,
            "assigned_at": None,
            "status_at": None,
            "approved_layers": [],
            "history": [],
        }
    return dict(WorkOut(work, context={"history": history}).data)


class ImageStatusView(APIView):
    @extend_schema(responses=WorkOut)
    def get(self, request: Request, image_id: int) -> Response:
        """The image's review status, assignee and review history (members)."""
        return Response(_work_out(image_for(request.user, image_id)))

    @extend_schema(request=MoveIn, responses=WorkOut)
    def post(self, request: Request, image_id: int) -> Response:
        """Submit, withdraw, approve or request changes; a refused move is a 4xx saying why."""
        image = image_for(request.user, image_id)
        fields = valid_input(MoveIn, request.data)
        services.image_move(image=image, user=request.user, **fields)
        image = Image.objects.select_related("work__assignee", "project").get(pk=image.pk)
        return Response(_work_out(image))


class ReviewQueue(APIView):
    @extend_schema(responses=WaitingOut(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        """The submitted images, longest waiting first (what review mode walks through)."""
        project = project_for(request.user, project_id)
        queue = team_selectors.review_queue(project)
        return Response(WaitingOut([dataclasses.asdict(entry) for entry in queue], many=True).data)


# Comments ------------------------------------------------------------------------------------


class ImageComments(APIView):
    serializer_class = CommentOut

    @extend_schema(responses=CommentOut(many=True))
    def get(self, request: Request, image_id: int) -> Response:
        """The image's comment threads, oldest first (members)."""
        image = image_for(request.user, image_id)
        return Response(CommentOut(team_selectors.threads_on(image), many=True).data)

    @extend_schema(request=CommentIn, responses={201: CommentOut})
    def post(self, request: Request, image_id: int) -> Response:
        """A new thread (pinned at x, y or on the whole image) or a reply (annotators and up)."""
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        fields = valid_input(CommentIn, request.data)
        parent, parent_id = None, fields.pop("reply_to")
        if parent_id is not None:
            parent = image.comments.filter(pk=parent_id).first()
            if parent is None:
                raise InvalidInput("reply_to must be a comment on this image.")
        comment = services.comment_add(image=image, author=request.user, parent=parent, **fields)
        thread = team_selectors.threads_on(image).get(pk=(comment.parent_id or comment.pk))
        return Response(CommentOut(thread).data, status=status.HTTP_201_CREATED)


class ProjectComments(generics.ListAPIView[Comment]):
    serializer_class = CommentOut

    def get_queryset(self) -> QuerySet[Comment]:
        project = project_for(self.request.user, self.kwargs["project_id"])
        raw = self.request.query_params.get("resolved")
        resolved = None if raw is None else raw.lower() in ("1", "true", "yes")
        return team_selectors.project_threads(project, resolved=resolved)

    @extend_schema(parameters=[OpenApiParameter("resolved", bool, required=False)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The project's comment threads, newest first; ?resolved=false lists the open ones."""
        return super().get(request, *args, **kwargs)


class CommentResolve(APIView):
    @extend_schema(request=ResolveIn, responses=CommentOut)
    def post(self, request: Request, comment_id: int) -> Response:
        """Resolve (or reopen, with resolved false) a comment's thread (annotators and up)."""
        comment = team_selectors.comment_in(selectors.projects_for(request.user), comment_id)
        if comment is None:
            raise NotFound("No such comment.")
        require_role(request.user, comment.image.project, Role.ANNOTATOR)
        root = services.comment_resolve(
            comment=comment, by=request.user, **valid_input(ResolveIn, request.data)
        )
        return Response(CommentOut(team_selectors.threads_on(root.image).get(pk=root.pk)).data)


# Progress and the audit list -----------------------------------------------------------------


class Progress(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        """Per member and for the project: images assigned and by status, labelled pixels per
        class, time active (labeling/progress.py says how each is counted)."""
        report = progress.project_progress(project_for(request.user, project_id))
        return Response(dataclasses.asdict(report))


class ProgressCsv(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, project_id: int) -> HttpResponse:
        """The progress report as CSV: a row per member, then the project's."""
        project = project_for(request.user, project_id)
        response = HttpResponse(
            progress.progress_csv(progress.project_progress(project)), content_type="text/csv"
        )
        response["Content-Disposition"] = content_disposition_header(
            True, f"progress-project-{project.pk}.csv"
        )
        return response


class AuditList(generics.ListAPIView[AuditEntry]):
    serializer_class = AuditOut

    def get_queryset(self) -> QuerySet[AuditEntry]:
        """Membership and settings changes, newest first (owners)."""
        project = project_for(self.request.user, self.kwargs["project_id"], needs=Role.OWNER)
        return team_selectors.audit_entries(project)
