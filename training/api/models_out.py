"""Models out and in over the API: a model version downloaded as TorchScript, ONNX or a
BioImage.IO package, and such a package (exported by Lesslabel) imported into a project
(training/models_out/). Managers and owners; strangers get 404 by construction."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.access import project_for
from labeling.errors import InvalidInput
from labeling.models import Role
from labeling.parsers import StrictMultiPartParser
from training.api.serializers import ModelVersionOut
from training.api.views import in_project_for
from training.models import ModelVersion
from training.models_out import services


class ModelVersionExport(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=list(services.FORMATS), required=True)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, version_id: int) -> HttpResponse:
        """The version as a TorchScript file, an ONNX file or a BioImage.IO package (zip), each
        with its classes, channels, channel ranges and provenance (managers and owners)."""
        version = in_project_for(ModelVersion, request.user, version_id, needs=Role.MANAGER)
        kind = request.query_params.get("as", "")
        if kind not in services.FORMATS:  # before any work: a wrong name is answered at once
            raise InvalidInput(f"as must be one of {', '.join(services.FORMATS)}, not {kind!r}.")
        export = services.version_export(version=version, kind=kind)
        response = HttpResponse(export.data, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response


class ModelVersionImport(APIView):
    parser_classes = [StrictMultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses={201: ModelVersionOut},
    )
    def post(self, request: Request, project_id: int) -> Response:
        """A BioImage.IO package exported by Lesslabel (field `file`) as a new model version of
        this project, its classes matched by name; 400 and nothing stored if it does not fit."""
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Send the package as the multipart field `file`.")
        if upload.size is not None and upload.size > settings.MODEL_IMPORT_MAX_BYTES:
            raise InvalidInput(
                f"The package is {upload.size} bytes, more than this server accepts "
                f"({settings.MODEL_IMPORT_MAX_BYTES}; MODEL_IMPORT_MAX_BYTES)."
            )
        version = services.model_version_import(project=project, author=request.user, data=upload.read())
        return Response(ModelVersionOut(version).data, status=201)
