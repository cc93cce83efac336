"""The labeling REST API. Each view parses, checks access, calls one service and replies."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import imageio, labelmaps, selectors, services
from labeling.access import annotation_for, image_for, project_for
from labeling.errors import InvalidInput
from labeling.models import MAP_KINDS, Annotation, Image, ImageStatus, LabelClass, Membership, Project, Role
from labeling.parsers import StrictMultiPartParser
from labeling.serializers import (
    AnnotationImportIn,
    AnnotationImportOut,
    AnnotationIn,
    AnnotationOut,
    HoldOutIn,
    HoldOutOut,
    ImageDetailOut,
    ImageOut,
    ImagePatch,
    ImageUploadIn,
    LabelClassIn,
    LabelClassOut,
    LabelClassPatch,
    MembershipOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    RestoreIn,
    RevisionOut,
    RoleIn,
    SplitIn,
    SplitOut,
    VersionIn,
)
from webapp.rest import StrictJSONParser, query_int, valid_input

PNG = {(200, "image/png"): OpenApiTypes.BINARY}


def _file_response(field: FieldFile, content_type: str) -> FileResponse:
    if not field:
        raise NotFound("This file does not exist (yet: renditions of large images are made by a worker).")
    response = FileResponse(field.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _roles(user: Any) -> dict[int, str]:
    return dict(Membership.objects.filter(user=user).values_list("project_id", "role"))


# Projects ----------------------------------------------------------------------------------


class ProjectList(generics.ListAPIView[Project]):
    serializer_class = ProjectOut

    def get_queryset(self) -> QuerySet[Project]:
        return selectors.projects_for(self.request.user).distinct()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "roles": _roles(self.request.user)}

    @extend_schema(request=ProjectIn, responses={201: ProjectOut})
    def post(self, request: Request) -> Response:
        project = services.project_create(owner=request.user, **valid_input(ProjectIn, request.data))
        out = ProjectOut(project, context={"roles": _roles(request.user)})
        return Response(out.data, status=status.HTTP_201_CREATED)


class ProjectDetail(APIView):
    serializer_class = ProjectOut

    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id)
        return Response(ProjectOut(project, context={"roles": _roles(request.user)}).data)

    @extend_schema(request=ProjectPatch, responses=ProjectOut)
    def patch(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        project = services.project_update(
            project=project, by=request.user, **valid_input(ProjectPatch, request.data)
        )
        return Response(ProjectOut(project, context={"roles": _roles(request.user)}).data)

    def delete(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, needs=Role.OWNER)
        services.project_archive(project=project, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberList(APIView):
    serializer_class = MembershipOut

    @extend_schema(responses=MembershipOut(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id)
        members = project.memberships.select_related("user")
        return Response(MembershipOut(members, many=True).data)


# People join by accepting an invitation (labeling/invitation_views.py), never by being added.


class MemberDetail(APIView):
    serializer_class = MembershipOut

    def _membership(self, request: Request, project_id: int, user_id: int) -> Membership:
        project = project_for(request.user, project_id, needs=Role.OWNER)
        membership = project.memberships.filter(user_id=user_id).select_related("user").first()
        if membership is None:
            raise NotFound("This user is not a member of the project.")
        return membership

    @extend_schema(request=RoleIn, responses=MembershipOut)
    def patch(self, request: Request, project_id: int, user_id: int) -> Response:
        membership = self._membership(request, project_id, user_id)
        membership = services.membership_set(
            project=membership.project,
            user=membership.user,
            role=valid_input(RoleIn, request.data)["role"],
            by=request.user,
        )
        return Response(MembershipOut(membership).data)

    def delete(self, request: Request, project_id: int, user_id: int) -> Response:
        services.membership_remove(membership=self._membership(request, project_id, user_id), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Label classes -----------------------------------------------------------------------------


class ClassList(APIView):
    serializer_class = LabelClassOut

    @extend_schema(responses=LabelClassOut(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id)
        return Response(LabelClassOut(project.classes.all(), many=True).data)

    @extend_schema(request=LabelClassIn, responses={201: LabelClassOut})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        label_class = services.label_class_create(
            project=project, by=request.user, **valid_input(LabelClassIn, request.data)
        )
        return Response(LabelClassOut(label_class).data, status=status.HTTP_201_CREATED)


class ClassDetail(APIView):
    serializer_class = LabelClassOut

    def _label_class(self, request: Request, project_id: int, class_id: int) -> LabelClass:
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        label_class = project.classes.filter(pk=class_id).first()
        if label_class is None:
            raise NotFound("No such class in this project.")
        return label_class

    @extend_schema(request=LabelClassPatch, responses=LabelClassOut)
    def patch(self, request: Request, project_id: int, class_id: int) -> Response:
        label_class = self._label_class(request, project_id, class_id)
        label_class = services.label_class_update(
            label_class=label_class, by=request.user, **valid_input(LabelClassPatch, request.data)
        )
        return Response(LabelClassOut(label_class).data)

    def delete(self, request: Request, project_id: int, class_id: int) -> Response:
        services.label_class_delete(
            label_class=self._label_class(request, project_id, class_id), by=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# Images ------------------------------------------------------------------------------------


class ImageList(generics.ListAPIView[Image]):
    serializer_class = ImageOut
    parser_classes = [StrictMultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Image]:
        project = project_for(self.request.user, self.kwargs["project_id"])
        images = selectors.with_label_state(selectors.images_of(project)).prefetch_related("channels__source")
        if split := self.request.query_params.get("split"):
            images = images.filter(split=split)
        if (stack := query_int(self.request, "stack")) is not None:
            images = images.filter(stack_id=stack)
        return _work_filters(images, self.request).select_related("uploaded_by", "stack")

    @extend_schema(
        parameters=[
            OpenApiParameter("split", str, required=False),
            OpenApiParameter("stack", int, required=False),
            OpenApiParameter("status", str, required=False, description="review status, e.g. submitted"),
            OpenApiParameter("assignee", str, required=False, description='"me", "none" or a user name'),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ImageUploadIn, responses={201: ImageOut(many=True)})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        fields = valid_input(ImageUploadIn, request.data)
        uploads = [services.Upload(name=f.name or "", data=f.read()) for f in fields["files"]]
        channels = [c.strip() for c in fields.get("channels", "").split(",") if c.strip()]
        images = services.image_ingest(
            project=project,
            uploader=request.user,
            uploads=uploads,
            channel_names=channels or None,
            name=fields.get("name"),
            split=fields["split"],
            pages=fields.get("pages"),
        )
        return Response(ImageOut(images, many=True).data, status=status.HTTP_201_CREATED)


def _work_filters(images: QuerySet[Image], request: Request) -> QuerySet[Image]:
    """?status=<review status> and ?assignee=me|none|<user name> (the grid's "My images")."""
    wanted = request.query_params.get("status")
    if wanted is not None and wanted not in ImageStatus.values:
        raise InvalidInput(f"status must be one of {', '.join(ImageStatus.values)}.")
    who = request.query_params.get("assignee")
    if who is None:
        return selectors.filter_by_work(images, status=wanted)
    if who == "none":
        return selectors.filter_by_work(images, status=wanted, unassigned=True)
    user = request.user if who == "me" else get_user_model().objects.filter(username=who).first()
    if user is None:
        return images.none()
    return selectors.filter_by_work(images, status=wanted, assignee=user)


class ImageDetail(APIView):
    serializer_class = ImageDetailOut

    def get(self, request: Request, image_id: int) -> Response:
        return Response(ImageDetailOut(image_for(request.user, image_id)).data)

    @extend_schema(request=ImagePatch, responses=ImageDetailOut)
    def patch(self, request: Request, image_id: int) -> Response:
        image = image_for(request.user, image_id, needs=Role.MANAGER)
        image = services.image_update(image=image, **valid_input(ImagePatch, request.data))
        return Response(ImageDetailOut(image).data)

    def delete(self, request: Request, image_id: int) -> Response:
        services.image_archive(image=image_for(request.user, image_id, needs=Role.MANAGER))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageSplit(APIView):
    """Set the train / validation split of a selection of images."""

    @extend_schema(request=SplitIn, responses=SplitOut)
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        fields = valid_input(SplitIn, request.data)
        ids = services.image_split_set(project=project, image_ids=fields["images"], split=fields["split"])
        return Response(SplitOut({"split": fields["split"], "images": ids}).data)


class ImageHoldOut(APIView):
    """Hold out N images for validation, chosen at random with a seed; the rest train."""

    @extend_schema(request=HoldOutIn, responses=HoldOutOut)
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        held = services.image_split_hold_out(project=project, **valid_input(HoldOutIn, request.data))
        return Response(HoldOutOut(held).data)


class ImageThumbnail(APIView):
    @extend_schema(responses=PNG)
    def get(self, request: Request, image_id: int) -> FileResponse:
        return _file_response(image_for(request.user, image_id).thumbnail, "image/png")


class ChannelDisplay(APIView):
    @extend_schema(responses=PNG)
    def get(self, request: Request, image_id: int, channel: str) -> FileResponse:
        image = image_for(request.user, image_id)
        row = image.channels.filter(name=channel).first()
        if row is None:
            raise NotFound(f"This image has no channel {channel!r}.")
        return _file_response(row.display, "image/png")


class ChannelTile(APIView):
    """One tile of a channel's display pyramid (level 0: full resolution, each level halves):
    the annotator draws only the tiles it shows, so large images open and pan quickly. Contrast
    is applied in the browser, so moving a contrast slider fetches nothing."""

    @extend_schema(responses=PNG)
    def get(
        self, request: Request, image_id: int, channel: str, level: int, col: int, row: int
    ) -> HttpResponse:
        image = image_for(request.user, image_id)
        shown = image.channels.filter(name=channel).first()
        if shown is None:
            raise NotFound(f"This image has no channel {channel!r}.")
        if not shown.display:
            raise NotFound("This file does not exist (yet: renditions of large images are made by a worker).")
        levels = imageio.pyramid_levels(image.width, image.height)
        if level >= levels:
            raise NotFound(f"This image has pyramid levels 0 to {levels - 1}.")
        # A rendition never changes, so its name and the tile's place identify the tile's bytes.
        tag = hashlib.sha256(f"{selectors.display_key(shown)}/{level}/{col}/{row}".encode()).hexdigest()
        etag = f'"{tag[:32]}"'
        if etag in request.headers.get("If-None-Match", ""):
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            try:
                tile = imageio.tile_of(selectors.display_pyramid(shown)[level], col, row)
            except IndexError as error:
                raise NotFound(f"No such tile: {error}.") from None
            response = HttpResponse(imageio.encode_png(tile), content_type="image/png")
        response["ETag"] = etag
        response["Cache-Control"] = "private, max-age=3600"
        return response


class ChannelOriginal(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, image_id: int, channel: str) -> FileResponse:
        image = image_for(request.user, image_id)
        row = image.channels.filter(name=channel).select_related("source").first()
        if row is None:
            raise NotFound(f"This image has no channel {channel!r}.")
        response = _file_response(row.source.file, "application/octet-stream")
        # Built by Django, which quotes and escapes the name: a stored name is the uploader's text.
        response["Content-Disposition"] = content_disposition_header(True, row.source.original_name)
        return response


# Annotations -------------------------------------------------------------------------------


class AnnotationList(APIView):
    serializer_class = AnnotationOut
    parser_classes = [StrictJSONParser, StrictMultiPartParser, FormParser]

    @extend_schema(responses=AnnotationOut(many=True))
    def get(self, request: Request, image_id: int) -> Response:
        image = image_for(request.user, image_id)
        annotations = image.annotations.select_related("created_by", "updated_by")
        return Response(AnnotationOut(annotations, many=True).data)

    @extend_schema(request=AnnotationIn, responses={201: AnnotationOut, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, image_id: int) -> Response:
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        fields = valid_input(AnnotationIn, request.data)
        label_class = None
        if fields.get("label_class") is not None:
            label_class = image.project.classes.filter(pk=fields["label_class"]).first()
            if label_class is None:
                raise InvalidInput(f"Class {fields['label_class']} does not exist in this project.")
        annotation = services.annotation_save(
            image=image,
            author=request.user,
            kind=fields["kind"],
            base_version=fields["base_version"],
            data=fields["data"],
            label_class=label_class,
            mask=fields["mask"].read() if fields.get("mask") else None,
            instances=fields["instances"].read() if fields.get("instances") else None,
        )
        return Response(AnnotationOut(annotation).data, status=status.HTTP_201_CREATED)


class AnnotationImport(APIView):
    """Existing annotations in: label images, COCO or QuPath GeoJSON (or zips of them), attached
    to the project's images by name as dense layers; all or nothing."""

    parser_classes = [StrictMultiPartParser, FormParser]

    @extend_schema(request=AnnotationImportIn, responses={201: AnnotationImportOut})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        fields = valid_input(AnnotationImportIn, request.data)
        files = [services.Upload(name=f.name or "", data=f.read()) for f in fields.pop("files")]
        fields["class_values"] = fields.pop("classes", None)
        result = services.annotations_import(
            project=project, author=request.user, files=files, options=services.ImportOptions(**fields)
        )
        return Response(AnnotationImportOut(result).data, status=status.HTTP_201_CREATED)


class AnnotationDetail(APIView):
    serializer_class = AnnotationOut

    def get(self, request: Request, annotation_id: int) -> Response:
        return Response(AnnotationOut(annotation_for(request.user, annotation_id)).data)

    @extend_schema(parameters=[OpenApiParameter("base_version", int, required=True)])
    def delete(self, request: Request, annotation_id: int) -> Response:
        annotation = annotation_for(request.user, annotation_id, needs=Role.ANNOTATOR)
        annotation = services.annotation_delete(
            annotation=annotation,
            author=request.user,
            base_version=valid_input(VersionIn, request.query_params)["base_version"],
        )
        return Response(AnnotationOut(annotation).data)


class AnnotationRevisions(APIView):
    serializer_class = RevisionOut

    @extend_schema(
        parameters=[OpenApiParameter("after", int, required=False)], responses=RevisionOut(many=True)
    )
    def get(self, request: Request, annotation_id: int) -> Response:
        """The layer's history, oldest first; `after` gives the revisions past a version the client has."""
        annotation = annotation_for(request.user, annotation_id)
        revisions = annotation.revisions.select_related("author").order_by("version")
        if (after := query_int(request, "after")) is not None:
            revisions = revisions.filter(version__gt=after)
        return Response(RevisionOut(revisions, many=True).data)


class AnnotationRestore(APIView):
    @extend_schema(request=RestoreIn, responses=AnnotationOut)
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation = annotation_for(request.user, annotation_id, needs=Role.ANNOTATOR)
        fields = valid_input(RestoreIn, request.data)
        annotation = services.annotation_restore(annotation=annotation, author=request.user, **fields)
        return Response(AnnotationOut(annotation).data)


class AnnotationMask(APIView):
    @extend_schema(parameters=[OpenApiParameter("version", int, required=False)], responses=PNG)
    def get(self, request: Request, annotation_id: int) -> HttpResponse:
        annotation = annotation_for(request.user, annotation_id)
        if annotation.kind not in MAP_KINDS:
            raise InvalidInput(f"A {annotation.kind} annotation has no mask.")
        version = _version_param(request, annotation)
        png = labelmaps.encode_map(selectors.label_map_at(annotation, version))
        response = HttpResponse(png, content_type="image/png")
        if "version" in request.query_params:
            # A given version's map never changes, so it may be cached for good.
            response["Cache-Control"] = "private, max-age=31536000, immutable"
        else:
            response["Cache-Control"] = "private, no-cache"
        return response


def _version_param(request: Request, annotation: Annotation) -> int:
    version = query_int(request, "version")
    if version is None:
        return annotation.version
    if not 0 <= version <= annotation.version:
        raise InvalidInput(f"This layer has versions 0 to {annotation.version}.")
    return version
