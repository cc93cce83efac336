"""The training REST API: runs, their curves and previews, model versions and predictions.

Reads of runs first sweep runs whose worker died (training/runs/lifecycle.py), so a page sees such a run
failed within RUN_STALE_SECONDS even while no worker is up to sweep it.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any, TypeVar

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.access import image_for, project_for, require_role
from labeling.models import Role
from labeling.selectors import projects_for
from labeling.serializers import ImageOut
from training.api.serializers import (
    ModelVersionOut,
    PredictionOut,
    PseudoMasksIn,
    RunMetricOut,
    StudyIn,
    StudyOut,
    StudyPlanIn,
    TeacherApplyIn,
    TeacherIn,
    TrainingRunIn,
    TrainingRunOut,
)
from training.features import guidance, instant, pseudo, study, teacher
from training.models import ModelVersion, Prediction, Study, TrainingRun
from training.runs import create, lifecycle

InProject = TypeVar("InProject", TrainingRun, ModelVersion, Study)


def in_project_for(
    model: type[InProject], user: object, object_id: int, *, needs: Role = Role.VIEWER
) -> InProject:
    """One of the user's projects' runs, versions or studies: 404 for anyone outside the
    project, 403 for a member whose role is below `needs`."""
    found = model.objects.filter(project__in=projects_for(user), pk=object_id).first()
    if found is None:
        raise NotFound(f"No such {model._meta.verbose_name}.")
    require_role(user, found.project, needs)
    return found


class RunList(generics.ListAPIView[TrainingRun]):
    serializer_class = TrainingRunOut

    def get_queryset(self) -> QuerySet[TrainingRun]:
        project = project_for(self.request.user, self.kwargs["project_id"])
        lifecycle.sweep_stale_runs()
        return project.runs.select_related("created_by")

    @extend_schema(request=TrainingRunIn, responses={201: TrainingRunOut})
    def post(self, request: Request, project_id: int) -> Response:
        """Start a run: the labels as they are now, trained on a gpu-queue worker."""
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        incoming = TrainingRunIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        warm_start = None
        if incoming.validated_data.get("warm_start") is not None:
            warm_start = ModelVersion.objects.filter(
                project__in=projects_for(request.user), pk=incoming.validated_data["warm_start"]
            ).first()
            if warm_start is None:
                raise ValidationError({"warm_start": "No such model version in a project you can read."})
        options = incoming.validated_data["config"]
        run = create.run_create(project=project, user=request.user, options=options, warm_start=warm_start)
        return Response(TrainingRunOut(run).data, status=201)


class RunDetail(APIView):
    serializer_class = TrainingRunOut

    def get(self, request: Request, run_id: int) -> Response:
        lifecycle.sweep_stale_runs()
        return Response(TrainingRunOut(in_project_for(TrainingRun, request.user, run_id)).data)


class RunCancel(APIView):
    @extend_schema(request=None, responses={200: TrainingRunOut})
    def post(self, request: Request, run_id: int) -> Response:
        """Cancel: a queued run at once, a running one within one training step (409 if finished)."""
        run = lifecycle.run_cancel(run=in_project_for(TrainingRun, request.user, run_id, needs=Role.MANAGER))
        return Response(TrainingRunOut(run).data)


class RunMetrics(APIView):
    serializer_class = RunMetricOut

    @extend_schema(parameters=[OpenApiParameter("after", int, required=False)])
    def get(self, request: Request, run_id: int) -> Response:
        """The run's curve points so far, in order; `after` gives those past a known seq."""
        run = in_project_for(TrainingRun, request.user, run_id)
        metrics = run.metrics.all()
        after = request.query_params.get("after")
        if after is not None and after.isdigit():
            metrics = metrics.filter(seq__gt=int(after))
        return Response(RunMetricOut(metrics, many=True).data)


class RunPreview(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, run_id: int, seq: int) -> FileResponse:
        """A preview label map (PNG, values are class indices) a run made during training."""
        metric = (
            in_project_for(TrainingRun, request.user, run_id).metrics.filter(seq=seq, kind="preview").first()
        )
        if metric is None:
            raise NotFound("No such preview.")
        return FileResponse(default_storage.open(metric.values["file"], "rb"), content_type="image/png")


class ModelVersionList(generics.ListAPIView[ModelVersion]):
    serializer_class = ModelVersionOut

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return project_for(self.request.user, self.kwargs["project_id"]).model_versions.all()


class PredictionList(generics.ListAPIView[Prediction]):
    serializer_class = PredictionOut

    def get_queryset(self) -> QuerySet[Prediction]:
        project = project_for(self.request.user, self.kwargs["project_id"])
        predictions = Prediction.objects.filter(model_version__project=project)
        for name in ("image", "model_version"):
            value = self.request.query_params.get(name)
            if value is not None and value.isdigit():
                predictions = predictions.filter(**{f"{name}_id": int(value)})
        return predictions

    @extend_schema(
        parameters=[
            OpenApiParameter("image", int, required=False),
            OpenApiParameter("model_version", int, required=False),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _prediction_for(user: Any, prediction_id: int) -> Prediction:
    readable = Prediction.objects.filter(model_version__project__in=projects_for(user))
    prediction = readable.filter(pk=prediction_id).first()
    if prediction is None:
        raise NotFound("No such prediction.")
    return prediction


class PredictionMask(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, prediction_id: int) -> FileResponse:
        """The predicted class map (PNG, values are class indices)."""
        prediction = _prediction_for(request.user, prediction_id)
        return FileResponse(prediction.mask.open("rb"), content_type="image/png")


class PredictionUncertainty(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, prediction_id: int) -> FileResponse:
        """Per-pixel normalised entropy as an 8-bit PNG (255 = the model cannot tell the classes apart)."""
        prediction = _prediction_for(request.user, prediction_id)
        return FileResponse(prediction.uncertainty_map.open("rb"), content_type="image/png")


class InstantPreviewMask(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, 204: None})
    def get(self, request: Request, image_id: int) -> FileResponse | Response:
        """The image's latest instant preview: a fast model's class map at preview scale (PNG label
        map, values are class indices); X-Preview-Seq and X-Preview-Made-At say which and when.
        204 while the image has none: a normal state (no strokes of two classes saved since the
        previews were last cleared), not a missing resource, so browsers log no failed load."""
        image = image_for(request.user, image_id)
        found = instant.open_latest_preview(image.pk)
        if found is None:
            return Response(status=204, headers={"Cache-Control": "no-store"})
        stored, handle = found
        response = FileResponse(handle, content_type="image/png")
        response["X-Preview-Seq"] = str(stored.seq)
        response["X-Preview-Made-At"] = str(stored.meta["made_at"])
        response["X-Preview-Images"] = str(stored.meta["images"])
        response["Cache-Control"] = "no-store"  # the same URL answers the next preview
        return response


class PseudoMasks(APIView):
    @extend_schema(request=PseudoMasksIn, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, version_id: int) -> Response:
        """Turn the version's confident predictions into derived layers, on a worker (202)."""
        version = in_project_for(ModelVersion, request.user, version_id, needs=Role.MANAGER)
        incoming = PseudoMasksIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        threshold = incoming.validated_data["max_uncertainty"]
        scored = pseudo.pseudo_masks_start(version=version, author=request.user, max_uncertainty=threshold)
        return Response(
            {"model_version": version.pk, "images": scored, "max_uncertainty": threshold}, status=202
        )


# The fluorescence teacher -------------------------------------------------------------------


class TeacherOverview(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        """The teacher's defaults, each image's channels and teacher state, and the last apply job."""
        project = project_for(request.user, project_id)
        return Response(teacher.teacher_overview(project))


class TeacherPreview(APIView):
    @extend_schema(request=TeacherIn, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, image_id: int) -> Response:
        """Run the pipeline on one image now: an RGBA overlay PNG (data URL) and the nucleus count."""
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        incoming = TeacherIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        preview = teacher.teacher_preview(
            image=image, channel=data["channel"], params=teacher.parse_params(data["params"])
        )
        return Response(
            {
                "image": image.pk,
                "objects": preview.objects,
                "params": preview.params.to_dict(),
                "overlay": "data:image/png;base64," + base64.b64encode(preview.png).decode("ascii"),
            }
        )


class TeacherApply(APIView):
    @extend_schema(request=TeacherApplyIn, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, project_id: int) -> Response:
        """Make teacher pseudo-masks for all (or the listed) images on a worker (202); progress on
        the socket as teacher.progress, then teacher.finished."""
        project = project_for(request.user, project_id, needs=Role.ANNOTATOR)
        incoming = TeacherApplyIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        job = teacher.teacher_apply_start(
            project=project,
            author=request.user,
            channel=data["channel"],
            params=teacher.parse_params(data["params"]),
            class_index=data["class_index"],
            image_ids=data["images"],
        )
        return Response({"job": job.job, "total": job.total}, status=202)


class TeacherExclude(APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, image_id: int) -> Response:
        """Drop the image's teacher pseudo-mask and leave the image out of later applies."""
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        head = teacher.teacher_exclude(image=image, author=request.user)
        return Response({"image": image.pk, "state": "excluded", "version": head.version})


class TeacherInclude(APIView):
    @extend_schema(request=TeacherIn, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, image_id: int) -> Response:
        """Bring an excluded image back: its teacher pseudo-mask is made again with these settings."""
        image = image_for(request.user, image_id, needs=Role.ANNOTATOR)
        incoming = TeacherIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        head = teacher.teacher_include(
            image=image,
            author=request.user,
            channel=data["channel"],
            params=teacher.parse_params(data["params"]),
            class_index=data["class_index"],
        )
        return Response({"image": image.pk, "state": "teacher", "version": head.version})


# Guided labelling ---------------------------------------------------------------------------


class NextImage(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("after", int, required=False, description="the image open now")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, project_id: int) -> Response:
        """The image that most needs labels (training/features/guidance.py), walking on from `after`,
        and why."""
        project = project_for(request.user, project_id)
        suggestion = guidance.next_image(
            project=project, after=_image_of(project, request, "after"), user_id=request.user.pk
        )
        image = None
        if suggestion.image is not None:
            image = selectors.with_label_state(selectors.images_of(project)).get(pk=suggestion.image)
        return Response(
            {
                "image": ImageOut(image).data if image is not None else None,
                "reason": suggestion.reason,
                "model_version": suggestion.model_version,
                "rank": suggestion.rank,
                "of": suggestion.of,
                "uncertainty": suggestion.uncertainty,
                "has_labels": suggestion.has_labels,
                "assigned": suggestion.assigned,
            }
        )


def _image_of(project: Any, request: Request, name: str) -> int | None:
    """The image id a query parameter names: None when absent, 400 unless an image of the project."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not selectors.images_of(project).filter(pk=int(raw)).exists():
        raise ValidationError({name: f"{raw!r} is not the id of an image of this project."})
    return int(raw)


class UncertaintyRanking(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        """The images outside the validation split, in the order guided labelling offers them."""
        ranking = guidance.uncertainty_ranking(project=project_for(request.user, project_id))
        version = ranking.model_version.pk if ranking.model_version else None
        return Response(
            [
                {
                    "rank": rank,
                    "image": entry.image,
                    "name": entry.name,
                    "uncertainty": entry.uncertainty,
                    "model_version": version if entry.scored else None,
                    "has_labels": entry.has_labels,
                }
                for rank, entry in enumerate(ranking.images, start=1)
            ]
        )


class ModelVersionRetrain(APIView):
    @extend_schema(request=None, responses={201: TrainingRunOut})
    def post(self, request: Request, version_id: int) -> Response:
        """Correct-and-retrain: a run warm-started from this version, with its run's options, on
        the labels as they are now (managers; 400 and nothing created for a non-segmentation one)."""
        version = in_project_for(ModelVersion, request.user, version_id, needs=Role.MANAGER)
        run = guidance.version_retrain(version=version, user=request.user)
        return Response(TrainingRunOut(run).data, status=201)


# Label-efficiency studies -------------------------------------------------------------------


class StudyList(generics.ListAPIView[Study]):
    serializer_class = StudyOut

    def get_queryset(self) -> QuerySet[Study]:
        project = project_for(self.request.user, self.kwargs["project_id"])
        lifecycle.sweep_stale_runs()
        return project.studies.select_related("created_by")

    @extend_schema(request=StudyIn, responses={201: StudyOut})
    def post(self, request: Request, project_id: int) -> Response:
        """Start a study: the same run on the first 1, 2, 4, ... labelled images, smallest first."""
        project = project_for(request.user, project_id, needs=Role.MANAGER)
        incoming = StudyIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        created = study.study_create(
            project=project, user=request.user, options=incoming.validated_data["config"]
        )
        return Response(StudyOut(created).data, status=201)


class StudyPlan(APIView):
    @extend_schema(parameters=[StudyPlanIn], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_id: int) -> Response:
        """The sizes a study would train with the labels there are now (400 and why if none)."""
        project = project_for(request.user, project_id)
        incoming = StudyPlanIn(data=request.query_params)
        incoming.is_valid(raise_exception=True)
        plan = study.study_plan(project=project, options=dict(incoming.validated_data))
        return Response(asdict(plan))


class StudyDetail(APIView):
    serializer_class = StudyOut

    def get(self, request: Request, study_id: int) -> Response:
        """The study's points so far (size, run, state, pixel F1) and the last doubling's gain."""
        lifecycle.sweep_stale_runs()
        return Response(StudyOut(in_project_for(Study, request.user, study_id)).data)


class StudyCancel(APIView):
    @extend_schema(request=None, responses={200: StudyOut})
    def post(self, request: Request, study_id: int) -> Response:
        """Cancel the study's unfinished runs (409 if it has already ended)."""
        found = in_project_for(Study, request.user, study_id, needs=Role.MANAGER)
        return Response(StudyOut(study.study_cancel(study=found)).data)
